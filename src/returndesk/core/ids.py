"""Public identifiers: raw primary keys never leave the system."""

from __future__ import annotations

import secrets

from returndesk.core.codes import ALPHABET as CROCKFORD


def random_base32(length: int) -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(length))


def new_public_id(prefix: str) -> str:
    """`<prefix>_` plus 20 random Crockford symbols (100 bits), e.g. `rcpt_7Q0M...`."""
    return f"{prefix}_{random_base32(20)}"
