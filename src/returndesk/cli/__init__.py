"""The `returndesk` command: Django's management commands with the project's settings.

Commands are spelled with hyphens (`returndesk import-orders`); Django's modules use
underscores, so the first word is translated.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returndesk.config.settings")
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    argv[0] = "returndesk"
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)
