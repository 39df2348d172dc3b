from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import CommandParser

from returndesk.cli.management.commands._base import ReturnDeskCommand


def gunicorn_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "returndesk.config.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "10",
    ]


class Command(ReturnDeskCommand):
    help = "Run the web server (gunicorn) for the API, the portal and the console."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2"))
        )
        parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "1")))

    def handle(self, *args: Any, **o: Any) -> None:
        argv = gunicorn_argv(o["host"], o["port"], o["workers"], o["threads"])
        self.stdout.write(f"Serving on http://{o['host']}:{o['port']}/")
        sys.stdout.flush()
        os.execv(argv[0], argv)
