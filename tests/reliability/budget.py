"""How hard the reliability tests push: a bounded amount inside `make test` (CI), much more
under `make soak`, which sets RETURNDESK_SOAK=1 (and HYPOTHESIS_PROFILE=soak)."""

from __future__ import annotations

import os

SOAK = os.environ.get("RETURNDESK_SOAK") == "1"


def scaled(ci: int, soak: int) -> int:
    """`ci` inside the suite, `soak` under `make soak`."""
    return soak if SOAK else ci
