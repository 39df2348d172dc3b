"""Bearer API keys, and the permission and tenant checks every endpoint makes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from returndesk.api.middleware import request_principal
from returndesk.core.errors import PermissionDenied
from returndesk.core.tenancy import merchant_scope
from returndesk.tenants.models import Merchant
from returndesk.tenants.selectors import Principal


class ApiKeyAuth(HttpBearer):
    openapi_description = "A merchant or provider API key: `Authorization: Bearer <key>`."

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        return request_principal(request)


def principal_of(request: HttpRequest) -> Principal:
    principal: Any = request.auth  # type: ignore[attr-defined]
    assert isinstance(principal, Principal)
    return principal


@contextmanager
def merchant_context(request: HttpRequest, permission: str) -> Iterator[tuple[Principal, Merchant]]:
    """For merchant-owned resources: check the permission, then enter the merchant's scope.

    A credential that may not use the operation at all gets 403; a provider key has no merchant
    of its own for these resources.
    """
    principal = principal_of(request)
    if not principal.can(permission) or principal.merchant is None:
        raise PermissionDenied("This credential may not use this operation.")
    with merchant_scope(principal.merchant):
        yield principal, principal.merchant
