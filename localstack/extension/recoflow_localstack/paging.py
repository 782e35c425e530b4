"""List paging shared by the emulated services, done the way SageMaker documents it.

The service takes a page of ``MaxResults`` items from the whole, sorted list first and only then
applies the filters (ListTrainingJobs: "the MaxResults number of training jobs are first retrieved
ignoring the StatusEquals parameter and then they are filtered"). So a page can be short, or
empty, while a next token still says there is more: a caller must follow the token to the end.

Tokens are opaque cursors (the sort key of the last item of the page, base64 JSON) rather than
offsets, so items created between two calls neither repeat nor go missing, as with the real
service. A token that does not decode, or comes from a listing in another order, is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Callable, Iterable, TypeVar

Item = TypeVar("Item")
SortKey = tuple  # of str / float / int, compared element by element


class InvalidToken(ValueError):
    pass


def sortable(value: Any) -> Any:
    """A JSON-safe, comparable form of one sort-key element (timestamps as epoch seconds)."""
    if isinstance(value, datetime):
        return value.timestamp()
    return value if value is not None else ""


def _encode(ordering: str, key: SortKey) -> str:
    raw = json.dumps({"o": ordering, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(ordering: str, token: str) -> SortKey:
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        key = cursor["k"]
        if cursor["o"] != ordering or not isinstance(key, list):
            raise InvalidToken(token)
        return tuple(key)
    except (binascii.Error, UnicodeError, ValueError, KeyError, TypeError):
        raise InvalidToken(token) from None


def page_then_filter(
    items: Iterable[Item],
    *,
    key: Callable[[Item], SortKey],
    descending: bool,
    max_results: int,
    token: str | None,
    keep: Callable[[Item], bool] = lambda _item: True,
    ordering: str = "",
) -> tuple[list[Item], str | None]:
    """One page: the ``max_results`` items after the token's cursor in ``key`` order, then those
    of them that ``keep`` accepts. Returns (page, next token or None). ``key`` must give each item
    a distinct tuple (end it with the name or ARN); ``ordering`` names the order, so a token is
    only accepted back by a listing in the same order. Raises ``InvalidToken``."""
    ordered = sorted(items, key=key, reverse=descending)
    start = 0
    if token:
        cursor = _decode(ordering, token)
        try:
            after = (lambda k: k < cursor) if descending else (lambda k: k > cursor)
            start = next((i for i, item in enumerate(ordered) if after(key(item))), len(ordered))
        except TypeError:  # a cursor whose values are not of this listing's types
            raise InvalidToken(token) from None
    chunk = ordered[start : start + max_results]
    more = start + max_results < len(ordered)
    next_token = _encode(ordering, key(chunk[-1])) if more and chunk else None
    return [item for item in chunk if keep(item)], next_token
