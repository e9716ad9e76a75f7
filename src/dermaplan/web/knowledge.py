"""The clinical knowledge the web app's use cases are given (the package's own, read once
per worker from the knowledge cache, as the command line reads it)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends

from dermaplan.knowledge import KnowledgeBase

if TYPE_CHECKING:
    from dermaplan.web.facemap import FaceMap


@functools.cache
def knowledge() -> KnowledgeBase:
    from dermaplan.knowledge.cache import load_cached_knowledge

    return load_cached_knowledge()


Knowledge = Annotated[KnowledgeBase, Depends(knowledge)]


@functools.cache
def areas_map() -> FaceMap:
    """The face and body map of the knowledge's areas, drawn once per worker."""
    from dermaplan.web.facemap import face_map

    return face_map(knowledge().areas)
