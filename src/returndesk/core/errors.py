"""Application errors with stable codes; every interface turns them into its own answer
(problem+json in the API, a message on a page, an exit status in the CLI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ApplicationError(Exception):
    code = "error"
    status = 400
    title = "Request failed"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        if code:
            self.code = code
        if status:
            self.status = status


class ValidationFailed(ApplicationError):
    code = "validation_error"
    status = 422
    title = "Validation failed"

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", errors=[FieldError(field, message)])


class NotFound(ApplicationError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(ApplicationError):
    code = "conflict"
    status = 409
    title = "Conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "Invalid state change"


class PermissionDenied(ApplicationError):
    code = "forbidden"
    status = 403
    title = "Forbidden"
