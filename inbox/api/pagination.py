"""Keyset pagination: a page ends with an opaque `next_cursor` that names the last row's
position (its sort value and id). The next page starts strictly after it, so rows that arrive
meanwhile neither repeat rows already read nor push unread ones out of sight (an OFFSET would
do both), and a deep page costs what the first one does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from inbox.queries import SortOrder, decode_cursor, encode_cursor

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    rows: list[M]
    next_cursor: str


def page_size(request: Request) -> int:
    """`page_size` from the query string: 1 to MAX_PAGE_SIZE (DEFAULT_PAGE_SIZE when absent)."""
    raw = request.query_params.get("page_size", "")
    if raw == "":
        return DEFAULT_PAGE_SIZE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ValidationError(
            {"page_size": [_("A whole number from 1 to %(max)d.") % {"max": MAX_PAGE_SIZE}]}
        )
    return int(raw)


def cursor_position(request: Request) -> tuple[datetime | None, int] | None:
    """The position `cursor` names (None: the first page); a mangled cursor is a 400."""
    raw = request.query_params.get("cursor", "")
    if raw == "":
        return None
    position = decode_cursor(raw)
    if position is None or position[1] < 0:
        raise ValidationError({"cursor": [_("Not a cursor from this API.")]})
    return position


def keyset_page(queryset: QuerySet[M], order: SortOrder, request: Request) -> Page[M]:
    """One page of `queryset` in `order`, after the request's cursor, of the request's size."""
    size = page_size(request)
    position = cursor_position(request)
    rows_qs = queryset.order_by(*order.order_by())
    if position is not None:
        value, pk = position
        if value is None and order.descending:
            raise ValidationError({"cursor": [_("Not a cursor from this API.")]})
        rows_qs = rows_qs.filter(order.after(value, pk))
    rows = list(rows_qs[: size + 1])
    next_cursor = ""
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = encode_cursor(order, rows[-1])
    return Page(rows=rows, next_cursor=next_cursor)


def paged(data: Any, next_cursor: str) -> dict[str, Any]:
    """The envelope of every list: `results` and `next_cursor` ("" on the last page)."""
    return {"results": data, "next_cursor": next_cursor}
