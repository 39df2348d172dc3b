"""Merchants' integration secrets, stored encrypted (Fernet) with keys from the environment.

`RETURNDESK_SECRETS_KEYS` holds one or more Fernet keys separated by commas: the first encrypts,
every one decrypts, so a key is rotated by putting the new one first and re-saving the rows.
Without it (the demo, tests) a key is derived from SECRET_KEY; production refuses to start
without it (settings). A value that no key opens raises `SecretUnreadable`, never garbage.

`EncryptedTextField` is a TextField whose column holds the token; Python sees the plain text.
Secrets are write-only everywhere else: pages and the API show `secret_hint` at most.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "fernet:"


class SecretUnreadable(RuntimeError):
    """A stored secret that none of the configured keys decrypts."""


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = hashlib.sha256(b"returndesk-secrets:" + secret_key.encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _cipher() -> MultiFernet:
    raw = getattr(settings, "RETURNDESK_SECRETS_KEYS", "") or ""
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    return _fernet(keys, settings.SECRET_KEY)


def secret_encrypt(plain: str) -> str:
    return PREFIX + _cipher().encrypt(plain.encode()).decode()


def secret_decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise SecretUnreadable("the stored secret is not encrypted")
    try:
        return _cipher().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no configured key decrypts the stored secret") from None


def secret_hint(plain: str) -> str:
    """What a page may show of a secret: that it is set, and its last four characters."""
    if not plain:
        return ""
    return "…" + plain[-4:] if len(plain) > 8 else "set"


class EncryptedTextField(models.TextField):
    """Plain text in Python, a Fernet token in the column; empty stays empty."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str:
        if value in (None, ""):
            return ""
        return secret_decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return ""
        return secret_encrypt(str(value))
