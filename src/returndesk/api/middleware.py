"""Guards every /api/ request before it reaches a view: body size (413), content type (415),
malformed JSON (400); and the Idempotency-Key semantics for POSTs (API.md, "Conventions")."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict

from returndesk.api.problems import problem, problem_from
from returndesk.core.errors import ApplicationError, FieldError
from returndesk.core.idempotency import (
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)
from returndesk.tenants.selectors import Principal, apikey_authenticate

logger = logging.getLogger(__name__)
API_PREFIX = "/api/"
WRITE_METHODS = {"POST", "PUT", "PATCH"}
# Inbound webhooks are signed over their raw bytes and carry their senders' content types.
RAW_BODY_PATHS = ("/webhooks",)
MULTIPART_PATHS = ("/uploads",)


def bearer_key(request: HttpRequest) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def request_principal(request: HttpRequest) -> Principal | None:
    """The caller behind the bearer key, looked up once per request."""
    if not hasattr(request, "_returndesk_principal"):
        key = bearer_key(request)
        request._returndesk_principal = apikey_authenticate(key) if key else None  # type: ignore[attr-defined]
    return request._returndesk_principal  # type: ignore[attr-defined]


def body_limit(path: str) -> int:
    if path.endswith("/bulk") or any(path.endswith(p) for p in MULTIPART_PATHS):
        return int(settings.RETURNDESK_MAX_BULK_BODY)
    return int(settings.RETURNDESK_MAX_BODY)


class ApiRequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        rejection = self._check_nul(request) or self._check_body(request)
        if rejection is not None:
            return rejection
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key is not None:
            response = self._idempotent(request, key)
        else:
            response = self.get_response(request)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/problem+json"
        ):
            # The router answers a wrong method itself, outside the API's exception handlers.
            allowed = response.get("Allow", "")
            return problem(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed here; use {allowed or 'another method'}.",
                headers={"Allow": allowed} if allowed else None,
            )
        return response

    def _check_nul(self, request: HttpRequest) -> HttpResponse | None:
        """No text of a request may hold NUL: PostgreSQL cannot store it, and no identifier,
        name or note has one. A path with one names nothing; a query refuses it."""
        if "\x00" in request.path:
            return problem(404, "not_found", "There is nothing here.")
        if _has_nul(request.GET):
            return problem(400, "bad_request", "The query may not contain the NUL character.")
        return None

    def _check_body(self, request: HttpRequest) -> HttpResponse | None:
        if request.method not in WRITE_METHODS:
            return None
        limit = body_limit(request.path)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem(400, "bad_request", "Content-Length is not a number.")
        if length > limit:
            return problem(
                413, "too_large", f"The request body is {length} bytes; the limit here is {limit}."
            )
        if length == 0 and "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", ""):
            return None
        content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if any(request.path.endswith(p) for p in RAW_BODY_PATHS):
            return None
        if any(request.path.endswith(p) for p in MULTIPART_PATHS):
            if content_type != "multipart/form-data":
                return problem(
                    415, "unsupported_media_type", "Send uploads as multipart/form-data."
                )
            if _has_nul(request.POST):
                message = "The form's fields may not contain the NUL character."
                return problem(422, "validation_error", message)
            return None
        if content_type != "application/json":
            return problem(
                415,
                "unsupported_media_type",
                f"Send JSON with Content-Type: application/json (got '{content_type or 'none'}').",
            )
        body = request.body
        if len(body) > limit:
            return problem(
                413, "too_large", f"The request body is over the limit of {limit} bytes."
            )
        try:
            parsed = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = (
                f" at line {exc.lineno} column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            return problem(400, "malformed_json", f"The body is not valid JSON{where}.")
        field = _nul_field(parsed, "")
        if field is not None:
            message = "may not contain the NUL character"
            return problem(
                422,
                "validation_error",
                f"{field or 'body'}: {message}",
                errors=[FieldError(field or "body", message)],
            )
        return None

    def _idempotent(self, request: HttpRequest, key: str) -> HttpResponse:
        principal = request_principal(request)
        if principal is None:
            return self.get_response(request)  # the view answers 401
        fingerprint = request_fingerprint(request.method or "POST", request.path, request.body)
        try:
            begun = idempotency_begin(
                credential=principal.credential, key=key, fingerprint=fingerprint
            )
        except ApplicationError as exc:
            return problem_from(exc)
        if isinstance(begun, StoredResponse):
            replay = HttpResponse(begun.body, status=begun.status, content_type=begun.content_type)
            replay["Idempotent-Replayed"] = "true"
            if begun.sealed:
                replay["Cache-Control"] = "no-store"
            return replay
        try:
            response = self.get_response(request)
        except BaseException:
            idempotency_release(record_id=begun)
            raise
        if response.status_code >= 500 or getattr(response, "streaming", False):
            idempotency_release(record_id=begun)
        else:
            idempotency_complete(
                record_id=begun,
                response=StoredResponse(
                    status=response.status_code,
                    content_type=response.get("Content-Type", "application/json"),
                    body=response.content,
                    sealed="no-store" in response.get("Cache-Control", ""),
                ),
            )
        return response


def _has_nul(fields: QueryDict) -> bool:
    return any("\x00" in text for key, values in fields.lists() for text in (key, *values))


def _nul_field(value: object, path: str) -> str | None:
    """Where in a parsed JSON body a string (or a key) holds NUL, as API field paths name it."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return where
            found = _nul_field(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for n, item in enumerate(value):
            found = _nul_field(item, f"{path}[{n}]")
            if found is not None:
                return found
    return None
