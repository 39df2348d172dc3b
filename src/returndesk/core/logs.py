"""Structured logs: a context (request id, job and run id) carried by contextvars into every
log record, and a JSON formatter that writes one object per line.

`log_context(request_id=...)` binds fields for the code it wraps; `ContextFilter` (on the
handler, see settings LOGGING) copies them onto each record; `JsonFormatter` writes the record,
its context and any `extra=` fields as JSON. Plain logging and the standard library only, so
any module may log with context and the worker, the web processes and the commands share it.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

_CONTEXT: ContextVar[Mapping[str, Any] | None] = ContextVar("returndesk_log_context", default=None)

# An X-Request-ID we accept from a client or a proxy: short, printable, no spaces or quotes,
# so it cannot forge a log line or smuggle markup. Anything else is replaced by our own id.
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,127}$")

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "context"}
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> str | None:
    """The id when it is one we accept as given, else None."""
    if value and REQUEST_ID_RE.match(value):
        return value
    return None


def current_context() -> Mapping[str, Any]:
    return _CONTEXT.get() or {}


def bind_context(**fields: Any) -> Token[Mapping[str, Any] | None]:
    """Add fields to the current context; give the token to `unbind_context` to undo."""
    return _CONTEXT.set({**current_context(), **fields})


def unbind_context(token: Token[Mapping[str, Any] | None]) -> None:
    _CONTEXT.reset(token)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Every record logged inside carries these fields (nested contexts add to the outer)."""
    token = bind_context(**fields)
    try:
        yield
    finally:
        unbind_context(token)


class ContextFilter(logging.Filter):
    """Copies the bound context onto the record: each field as an attribute (for the JSON
    formatter) and `record.context`, a ` [key=value ...]` suffix for text formats (empty when
    nothing is bound). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        for key, value in context.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        record.context = (
            " [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]" if context else ""
        )
        return True


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601 with milliseconds), level, logger,
    message, the bound context, `extra=` fields, and the exception text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in current_context().items():
            out.setdefault(key, _jsonable(value))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out.setdefault(key, _jsonable(value))
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc_info"] = record.exc_text
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        if record.levelno >= logging.WARNING:
            out["source"] = f"{record.pathname}:{record.lineno}"
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))
