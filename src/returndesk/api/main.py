"""The HTTP API at /api/v1 (API.md)."""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema

from returndesk.api import (
    analytics,
    carriers,
    credit,
    customers,
    exchanges,
    inspections,
    integrations,
    inventory,
    labels,
    operations,
    orders,
    policy,
    products,
    receipts,
    refunds,
    returns,
    shipping,
    uploads,
    webhooks,
)
from returndesk.api.auth import ApiKeyAuth
from returndesk.api.problems import document_problem_media_type, problem, problem_from
from returndesk.core.errors import ApplicationError, FieldError

logger = logging.getLogger(__name__)


class ReturnDeskAPI(NinjaAPI):
    """The API, whose OpenAPI document says errors are application/problem+json."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        document_problem_media_type(document)
        return document


api = ReturnDeskAPI(
    title="ReturnDesk API",
    version="1",
    description="Returns management for a return-management service provider and its "
    "merchants. Money is `{amount, currency}` in minor units; errors are "
    "application/problem+json with a stable `code`.",
    auth=ApiKeyAuth(),
    urls_namespace="api-v1",
)
api.add_router("", products.router)
api.add_router("", orders.router)
api.add_router("", policy.router)
api.add_router("", returns.router)
api.add_router("", uploads.router)
api.add_router("", labels.router)
api.add_router("", carriers.router)
api.add_router("", shipping.router)
api.add_router("", receipts.router)
api.add_router("", inspections.router)
api.add_router("", inventory.router)
api.add_router("", refunds.router)
api.add_router("", credit.router)
api.add_router("", customers.router)
api.add_router("", exchanges.router)
api.add_router("", integrations.router)
api.add_router("", analytics.router)
api.add_router("", webhooks.router)
api.add_router("", operations.router)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = list(loc)
    # Ninja prefixes locations with the source and the parameter name ("body", "payload").
    if parts and parts[0] in {"body", "query", "path", "header", "form", "file"}:
        parts = parts[2:] if parts[0] == "body" and len(parts) > 1 else parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        message = str(error.get("msg", "is invalid"))
        if error.get("type") == "extra_forbidden":
            message = "is not a field of this resource"
        elif error.get("type") == "missing":
            message = "is required"
        errors.append(FieldError(_field_path(error.get("loc", ())), message))
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "The request is invalid."
    return problem(422, "validation_error", detail, errors=errors)


@api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return problem_from(exc)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        401,
        "unauthenticated",
        "Send a valid API key as 'Authorization: Bearer <key>'.",
        headers={"WWW-Authenticate": "Bearer"},
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, "not_found", "There is nothing here.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "bad_request", 405: "method_not_allowed", 429: "rate_limited"}
    return problem(exc.status_code, codes.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "internal_error", "Something went wrong on our side; it has been logged.")


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (liveness); readiness is /readyz (observability/views.py)."""
    return JsonResponse({"status": "ok"})
