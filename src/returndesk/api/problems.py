"""RFC 9457 problem+json answers with the stable codes of API.md."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse

from returndesk.core.errors import ApplicationError, FieldError

PROBLEM_TYPE = "https://returndesk.dev/problems/"
TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal server error",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    errors: Iterable[FieldError] = (),
    title: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [{"field": e.field, "message": e.message} for e in errors],
    }
    response = HttpResponse(
        json.dumps(body), status=status, content_type="application/problem+json"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def problem_from(exc: ApplicationError) -> HttpResponse:
    return problem(exc.status, exc.code, exc.detail, errors=exc.errors, title=exc.title)


PROBLEM_SCHEMA = "#/components/schemas/ProblemOut"


def document_problem_media_type(document: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document that error answers are application/problem+json, as
    `problem` sends them: Ninja writes every answer under its renderer's application/json."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for answer in operation.get("responses", {}).values():
                content = answer.get("content") or {}
                body = content.get("application/json") or {}
                if body.get("schema", {}).get("$ref") == PROBLEM_SCHEMA:
                    content["application/problem+json"] = content.pop("application/json")
    return document
