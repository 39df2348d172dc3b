"""Entering a tenant scope. The API, pages, tasks and commands enter it explicitly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django_scopes import scope, scopes_disabled


@contextmanager
def merchant_scope(merchant: Any) -> Iterator[None]:
    """Only this merchant's rows are visible inside the block."""
    merchant_id = getattr(merchant, "pk", merchant)
    with scope(merchant=merchant_id):
        yield


@contextmanager
def merchants_scope(merchant_ids: Iterable[int]) -> Iterator[None]:
    """Rows of several merchants (a provider key serving them) are visible inside the block."""
    with scope(merchant=list(merchant_ids)):
        yield


@contextmanager
def provider_wide() -> Iterator[None]:
    """Every merchant's rows: for provider-wide jobs and superuser tools, never for requests."""
    with scopes_disabled():
        yield
