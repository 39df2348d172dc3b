from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from returndesk.core.actors import Actor
from returndesk.core.errors import ApplicationError


class ReturnDeskCommand(BaseCommand):
    """Turns application errors into a clear message and a non-zero exit."""

    actor = Actor.system("command line")

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except ApplicationError as exc:
            detail = exc.detail
            if exc.errors and len(exc.errors) > 1:
                detail = "\n  ".join(
                    [exc.detail.split(";")[0], *(f"{e.field}: {e.message}" for e in exc.errors)]
                )
            raise CommandError(detail) from exc
