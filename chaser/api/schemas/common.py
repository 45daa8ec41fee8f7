from __future__ import annotations

from typing import Any, Generic, TypeVar

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


def page_of(items: list[T], page: Any) -> Page[T]:
    """A page cut from a short list that was loaded whole (accounts, members, service accounts)."""
    return Page(
        data=items[page.offset : page.offset + page.limit],
        count=len(items),
        limit=page.limit,
        offset=page.offset,
    )
