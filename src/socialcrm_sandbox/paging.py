"""Cursor paging over newest-first lists of items with growing numeric ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class IdWindow:
    """Bounds on ids, as the networks' ``since_id``/``min_id``/``max_id`` parameters give them."""

    above: int | None = None  # exclusive lower bound (since_id, min_id)
    below: int | None = None  # exclusive upper bound (max_id, until_id, cursors)
    oldest_first: bool = False  # min_id: the page just above ``above``, not the newest

    def admits(self, item_id: int) -> bool:
        return (self.above is None or item_id > self.above) and (
            self.below is None or item_id < self.below
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


def as_int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def take_page(
    newest_first: Sequence[T], id_of: Callable[[T], str], window: IdWindow, limit: int
) -> Page[T]:
    """Up to ``limit`` items inside ``window``, newest first."""
    inside = [item for item in newest_first if window.admits(int(id_of(item)))]
    if window.oldest_first:
        chosen = list(reversed(inside))[:limit]
        return Page(list(reversed(chosen)), has_more=len(inside) > limit)
    return Page(inside[:limit], has_more=len(inside) > limit)


def clamp(value: int | None, default: int, maximum: int, minimum: int = 1) -> int:
    if value is None:
        return default
    return max(minimum, min(value, maximum))
