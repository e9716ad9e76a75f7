"""The clinical knowledge the web app's use cases are given (the package's own, read once
per worker from the knowledge cache, as the command line reads it)."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import Depends

from dermaplan.knowledge import KnowledgeBase


@functools.cache
def knowledge() -> KnowledgeBase:
    from dermaplan.knowledge.cache import load_cached_knowledge

    return load_cached_knowledge()


Knowledge = Annotated[KnowledgeBase, Depends(knowledge)]
