"""Cursor pagination (API.md: `?limit=` default 50, max 500; `?cursor=`; `next_cursor`).

Keyset pagination over public sort keys: the cursor is the last row's sort values, so a page
costs the same query at any depth and raw ids never leave the system.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Model, Q, QuerySet

from returndesk.core.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, count: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationFailed.on("cursor", "is not a cursor this API gave out") from None
    if not isinstance(values, list) or len(values) != count:
        raise ValidationFailed.on("cursor", "is not a cursor this API gave out")
    return values


def _sort_value(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def paginate[M: Model, R](
    queryset: QuerySet[M, R],
    *,
    ordering: Sequence[str],
    cursor: str | None,
    limit: int | None,
    parse: Sequence[Callable[[Any], Any]] | None = None,
) -> tuple[list[R], str | None]:
    """One page of `queryset` ordered by `ordering` (public, unique together). Rows may be
    model instances or, for a `values()` query (sums per group), dicts with those keys."""
    if limit is None:
        limit = DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed.on("limit", f"must be between 1 and {MAX_LIMIT}")
    fields = [f.lstrip("-") for f in ordering]
    qs = queryset.order_by(*ordering)
    if cursor:
        values = _decode(cursor, len(fields))
        if parse:
            try:
                values = [p(v) for p, v in zip(parse, values, strict=True)]
            except (TypeError, ValueError):
                raise ValidationFailed.on("cursor", "is not a cursor this API gave out") from None
        condition = Q()
        for i, name in enumerate(fields):
            op = "lt" if ordering[i].startswith("-") else "gt"
            step = Q(**{f"{name}__{op}": values[i]})
            for j in range(i):
                step &= Q(**{fields[j]: values[j]})
            condition |= step
        qs = qs.filter(condition)
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode([_sort_value(rows[-1], f) for f in fields])
    return rows, next_cursor
