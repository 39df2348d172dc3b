from __future__ import annotations

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
        self.stdout.write(f"Worker {worker_id} running (Ctrl-C to stop).")
        sys.stdout.flush()
        try:
            while self.running:
                close_old_connections()
                for name in run_due_jobs(worker_id=worker_id):
                    self.stdout.write(f"ran periodic job {name}")
                if tasks is not None and tasks.poll() is not None:
                    self.stderr.write("the task worker stopped; starting it again")
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
            self.stdout.write("Worker stopped.")
