"""What use cases return: frozen pydantic models that every front end renders its own way
(text, JSON, HTML), detached from the database session."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True, defer_build=True)
