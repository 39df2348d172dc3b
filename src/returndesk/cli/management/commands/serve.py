from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from returndesk.cli.management.commands._base import ReturnDeskCommand


def gunicorn_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    argv = [
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
        "--graceful-timeout",
        "10",
    ]
    if settings.LOG_JSON:
        # gunicorn's own lines as JSON too; each request is already one structured line with
        # its request id (observability/middleware.py), so no access log.
        argv += ["--log-config-json", gunicorn_json_logging()]
    else:
        argv += ["--access-logfile", "-"]
    return argv


def gunicorn_json_logging() -> str:
    """A logging configuration for gunicorn's master and workers that writes JSON lines."""
    path = Path(settings.VAR_DIR) / "gunicorn-logging.json"
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "returndesk.core.logs.JsonFormatter"}},
        "handlers": {"json": handler},
        "root": {"level": "INFO", "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
    }
    path.write_text(json.dumps(config))
    return str(path)


def metrics_dir(host: str, port: int) -> str:
    """Prometheus' multiprocess folder for this server, emptied at each start, so one scrape
    of any of its processes counts the requests of all of them (observability/metrics.py)."""
    if given := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return given
    folder = Path(settings.VAR_DIR) / "metrics" / f"{host.strip('[]').replace(':', '_')}-{port}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return str(folder)


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
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir(o["host"], o["port"])
        logging.getLogger(__name__).info("Serving on http://%s:%s/", o["host"], o["port"])
        os.execv(argv[0], argv)
