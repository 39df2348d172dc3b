"""Secrets never reach a log line or an error page (docs/security.md, "Secrets in logs and
error pages").

Secrets are not logged on purpose anywhere; this is the net under that rule. `RedactSecrets`
sits on every log handler (settings LOGGING) and replaces whatever has the shape of a credential
in the message, its arguments, `extra=` fields and the exception text: our API keys, Stripe,
Shopify and EasyPost keys, webhook signing secrets, bearer and basic authorization values, and
the stored form of an encrypted secret. `RedactingExceptionReporter` (DEFAULT_EXCEPTION_REPORTER)
does the same to Django's error reports (the DEBUG page, e-mails to ADMINS), and
`MarkedSecretsFilter` (DEFAULT_EXCEPTION_REPORTER_FILTER) hides what views and services mark
with `sensitive_post_parameters` and `sensitive_variables` even with DEBUG on, where Django's own
filter shows everything. A secret with no recognizable shape (a PayPal client secret) relies on
those marks and on the rule itself: the code never puts one in a message or an exception.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

REDACTED = "[redacted]"
SECRET_SHAPES = re.compile(
    r"\brd_[mp]_[A-Za-z0-9_-]{8,}"  # ReturnDesk API keys
    r"|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}"  # Stripe keys
    r"|\bwhsec_[A-Za-z0-9+/=_-]{8,}"  # Standard Webhooks and Stripe signing secrets
    r"|\bshp(?:at|ss|ca|pa)_[A-Za-z0-9]{8,}"  # Shopify tokens and secrets
    r"|\bEZ[AT]K[A-Za-z0-9]{16,}"  # EasyPost keys
    r"|fernet:[A-Za-z0-9_=-]{16,}"  # an encrypted secret as stored
    r"|(?<=[Bb]earer )[A-Za-z0-9._~+/=-]{8,}"
    r"|(?<=[Bb]asic )[A-Za-z0-9+/=]{8,}"
)
# Attributes every LogRecord has; the others came from `extra=` and are redacted too.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)


def redact(text: str) -> str:
    return SECRET_SHAPES.sub(REDACTED, text)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redacted(v) for v in value)
    return value


class RedactSecrets(logging.Filter):
    """Rewrites the record in place; never drops one. The exception is formatted here, redacted,
    and kept as `exc_text` (formatters print that when `exc_info` is gone)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info:
            record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and not key.startswith("_"):
                setattr(record, key, _redacted(value))
        return True


class RedactingExceptionReporter(ExceptionReporter):
    """Django's error report with every shaped secret redacted: the exception's message, the
    frames' variables, the request's parameters, headers and settings."""

    def get_traceback_data(self) -> dict[str, Any]:
        data: dict[str, Any] = _redacted(super().get_traceback_data())
        for key in ("exception_value", "exception_notes"):
            if data.get(key) is not None:
                data[key] = redact(str(data[key]))
        return data


class MarkedSecretsFilter(SafeExceptionReporterFilter):
    """Django's filter, active with DEBUG on too: a developer's error page is still a page."""

    def is_active(self, request: Any) -> bool:
        return True
