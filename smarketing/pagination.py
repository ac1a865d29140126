"""Keyset pagination for big lists: each page is an indexed range scan, nothing is counted.

A page is asked for with an opaque cursor (the last row's sort value and id); the next page
starts after it. Rows are ordered by (sort field, id), both in the sort's direction, so the
order is total and stable while rows are added.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Model, Q, QuerySet
from django.utils.dateparse import parse_datetime


@dataclass
class KeysetPage:
    rows: list[Model]
    next_cursor: str | None
    is_first: bool

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _encode(value, pk: int) -> str:
    raw = json.dumps([value.isoformat() if isinstance(value, datetime) else value, pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[object, int] | None:
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return value, int(pk)
    except (ValueError, TypeError):
        return None


def _value(row: Model, field: str) -> object:
    """The row's value of ``field``, which may follow a relation (``score__total``)."""
    for name in field.split("__"):
        row = getattr(row, name)
    return row


def keyset_page(queryset: QuerySet, *, order: str, cursor: str | None, size: int) -> KeysetPage:
    """One page of ``queryset`` ordered by ``order`` (e.g. ``-created_at``), after ``cursor``."""
    field = order.lstrip("-")
    descending = order.startswith("-")
    after = _decode(cursor) if cursor else None
    if after is not None:
        value, pk = after
        if isinstance(value, str) and field.endswith("_at"):
            value = parse_datetime(value)
        op = "lt" if descending else "gt"
        queryset = queryset.filter(Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk}))
    ordering = [order, "-pk" if descending else "pk"]
    rows = list(queryset.order_by(*ordering)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = _encode(_value(rows[-1], field), rows[-1].pk) if more and rows else None
    return KeysetPage(rows=rows, next_cursor=next_cursor, is_first=after is None)
