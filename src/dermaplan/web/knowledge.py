"""The knowledge the web app plans with: the built-in knowledge, loaded once per worker
(from the knowledge cache when its files are unchanged), and the face map drawn from its
areas."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import Depends

from dermaplan.knowledge import KnowledgeBase
from dermaplan.web.facemap import FaceMap, face_map


@functools.cache
def knowledge() -> KnowledgeBase:
    from dermaplan.knowledge.cache import load_cached_knowledge

    return load_cached_knowledge()


@functools.cache
def knowledge_map() -> FaceMap:
    return face_map(knowledge().areas)


Knowledge = Annotated[KnowledgeBase, Depends(knowledge)]
