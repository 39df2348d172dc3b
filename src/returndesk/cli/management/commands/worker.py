from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.core.management.base import CommandParser
from django.db import close_old_connections

from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.core.scheduling import ensure_job_rows, run_due_jobs

logger = logging.getLogger(__name__)


class Command(ReturnDeskCommand):
    help = (
        "Run the background worker: the periodic jobs declared in core/scheduling.py, the "
        "durable work queues, and django.tasks' database worker for ad-hoc tasks. Several "
        "workers may run at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
        parser.add_argument(
            "--no-tasks", action="store_true", help="do not start the ad-hoc task worker"
        )

    def handle(self, *args: Any, **o: Any) -> None:
        worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.running = True

        def stop(signum: int, frame: FrameType | None) -> None:
            self.running = False

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        tasks: subprocess.Popen[bytes] | None = None
        if not o["no_tasks"]:
            tasks = subprocess.Popen(
                [sys.executable, "-m", "returndesk.cli", "db_worker", "--interval", "1"],
                start_new_session=True,
            )
        ensure_job_rows()
        # Through logging, so that production's JSON logs stay one JSON object per line.
        logger.info("Worker %s running (Ctrl-C to stop).", worker_id)
        try:
            while self.running:
                close_old_connections()
                # Each run logs one line with its job name and run id (core/scheduling.py).
                run_due_jobs(worker_id=worker_id)
                if tasks is not None and tasks.poll() is not None:
                    logger.warning("the task worker stopped; starting it again")
                    tasks = subprocess.Popen(
                        [sys.executable, "-m", "returndesk.cli", "db_worker", "--interval", "1"],
                        start_new_session=True,
                    )
                time.sleep(o["interval"])
        finally:
            if tasks is not None and tasks.poll() is None:
                tasks.terminate()
                try:
                    tasks.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    tasks.kill()
            logger.info("Worker %s stopped.", worker_id)
