"""Public identifiers: raw primary keys never leave the system."""

from __future__ import annotations

import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_base32(length: int) -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(length))


def new_public_id(prefix: str) -> str:
    """`<prefix>_` plus 20 random Crockford symbols (100 bits), e.g. `rcpt_7Q0M...`."""
    return f"{prefix}_{random_base32(20)}"
