from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandParser

from returndesk.cli.demo_seed import PASSWORD, DemoReport, seed
from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.cli.management.commands.serve import gunicorn_argv


class Command(ReturnDeskCommand):
    help = "Migrate, seed the demo data, then run the web server and the worker until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--seed-only", action="store_true", help="seed, print, and stop")
        parser.add_argument(
            "--without-online-retail", action="store_true", help="seed the synthetic merchant only"
        )

    def handle(self, *args: Any, **o: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(
            "Database migrated. Seeding the demo (the Online Retail import takes a minute)…"
        )
        sys.stdout.flush()
        report = DemoReport()
        keys = seed(report=report, with_online_retail=not o["without_online_retail"])
        credentials = Path(settings.VAR_DIR) / "demo-credentials.txt"
        if keys:
            # Demo only: the keys are kept in var/ so that later runs can print them again.
            credentials.write_text("".join(f"{name}: {key}\n" for name, key in keys.items()))
            credentials.chmod(0o600)
        port = o["port"]
        base = f"http://127.0.0.1:{port}"
        lines = [
            "",
            "ReturnDesk demo",
            *[f"  {line}" for line in report.lines],
            "",
            f"  Console      {base}/console/   (staff: sign in with a login below)",
            f"  Portal       {base}/r/northwind/   (shoppers: try order NW-10002 with "
            "grace.hopper@example.com)",
            f"  API docs     {base}/api/v1/docs   (OpenAPI: {base}/api/v1/openapi.json)",
            f"  Admin        {base}/admin/   (superusers)",
            f"  Health       {base}/healthz  {base}/readyz",
            "",
            f"  Logins (password '{PASSWORD}' for each):",
            "    ops@harbor-returns.example            provider admin (and superuser)",
            "    warehouse@harbor-returns.example      warehouse, every merchant",
            "    merchant-admin@northwind.example      merchant admin, northwind",
            "    agent@northwind.example               agent, northwind",
            "    finance@northwind.example             finance, northwind",
            "    merchant-viewer@northwind.example     viewer, northwind",
            "",
            "  API keys (from var/demo-credentials.txt):",
        ]
        if credentials.exists():
            lines += [f"    {line}" for line in credentials.read_text().splitlines()]
        lines += [
            "",
            f"  Try: curl -H 'Authorization: Bearer <merchant key>' {base}/api/v1/orders/NW-10001",
            "",
        ]
        self.stdout.write("\n".join(lines))
        if o["seed_only"]:
            return
        self._run(port)

    def _run(self, port: int) -> None:
        web = subprocess.Popen(gunicorn_argv("127.0.0.1", port, 2, 2))
        worker = subprocess.Popen([sys.executable, "-m", "returndesk.cli", "worker"])
        children = [web, worker]
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write("Web server and worker running; Ctrl-C stops both.")
        sys.stdout.flush()
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
        self.stdout.write("Demo stopped.")
