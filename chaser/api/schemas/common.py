from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Body(BaseModel):
    """Request bodies: strict JSON types (a string is not a number), unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int
    limit: int
    offset: int


class Deleted(BaseModel):
    deleted: bool = True
    id: str
