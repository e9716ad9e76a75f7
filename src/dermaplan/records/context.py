"""Who acts and when: one value handed from the command edge to every service call.

The clock is read once, at the edge, so every row and audit event a command writes carries
the same time, and tests pass a fixed one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass


def utc_now() -> dt.datetime:
    """The one clock of the records layer."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Context:
    actor: str  # who runs the program: "os:<user>" from the command line, or a service
    now: dt.datetime
    staff_id: uuid.UUID | None = None  # the member of staff acting (app.principal)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("Context.now must be timezone-aware")
        if not self.actor.strip():
            raise ValueError("Context.actor must name someone")
