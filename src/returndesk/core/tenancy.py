"""Entering a tenant scope. The API, pages, tasks and commands enter it explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django_scopes import scope


@contextmanager
def merchant_scope(merchant: Any) -> Iterator[None]:
    """Only this merchant's rows are visible inside the block."""
    merchant_id = getattr(merchant, "pk", merchant)
    with scope(merchant=merchant_id):
        yield
