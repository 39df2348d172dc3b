"""`make deploy-check`: docs/deploy.md, done on this machine on loopback, then checked.

A fresh PostgreSQL database, migrated; S3 through a local moto server; two `returndesk serve`
(gunicorn, production settings, JSON logs) behind nginx with TLS (deploy/nginx.conf itself,
on free ports, as the current user, under a temporary prefix); two `returndesk worker`; a mixed
load through nginx for DEPLOY_CHECK_SECONDS (60); the queues drained; then the proofs that no
job ran twice and none was lost; then a backup (pg_dump and `returndesk media backup`) restored
into a new database and a new bucket and compared. Prints every check and PASS or FAIL; exits
non-zero on any failure. Loopback only; every process it starts is stopped at the end.

Run with the project's virtualenv: .venv/bin/python deploy/check.py [--seconds N] [--keep]
"""

from __future__ import annotations

import argparse
import getpass
import http.client as http_client
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

import load  # noqa: E402

PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
BUCKET, RESTORED_BUCKET = "returndesk-media", "returndesk-media-restored"
# Tables whose content is compared row by row (an md5 over every row in primary key order).
KEY_TABLES = (
    "catalog_order",
    "returns_return",
    "returns_returnevent",
    "shipping_label",
    "warehouse_receipt",
    "refunds_refund",
    "refunds_settlement",
    "notifications_outboxmessage",
    "notifications_webhookdelivery",
    "core_upload",
)


# --- small helpers ---------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[bool, str, str]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.rows.append((ok, name, detail))
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    @property
    def failed(self) -> list[str]:
        return [name for ok, name, _ in self.rows if not ok]


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tool(name: str, *more: str) -> str:
    for candidate in (shutil.which(name), *more):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit(f"deploy-check needs {name} (see `make deploy-check` in the Makefile)")


def run(argv: list[str], env: dict[str, str] | None = None, **kw: Any) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, **kw)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def psql(database: str, sql: str) -> str:
    return run(
        ["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-d", database,
         "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]
    ).strip()  # fmt: skip


def http(url: str, *, cafile: str | None = None, headers: dict[str, str] | None = None,
         timeout: float = 10) -> tuple[int, bytes, dict[str, str]]:  # fmt: skip
    request = urllib.request.Request(url, headers=headers or {})
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return 0, str(exc).encode(), {}


def wait_for(what: str, probe: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


class Processes:
    """Everything this check started, stopped in reverse order at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        self.started.append((name, proc))
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        for label, proc in self.started:
            if label == name and proc.poll() is None:
                os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    def stop_all(self) -> None:
        for name, _ in reversed(self.started):
            self.stop(name)


class Receiver(BaseHTTPRequestHandler):
    """A merchant's webhook endpoint on loopback: records each delivery's webhook-id."""

    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.seen[self.headers.get("webhook-id", "")] += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def metric_samples(body: bytes) -> list[tuple[str, dict[str, str], float]]:
    from prometheus_client.parser import text_string_to_metric_families

    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    ]


# --- the check -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("DEPLOY_CHECK_SECONDS", 60))
    )
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder and databases"
    )
    args = parser.parse_args()

    nginx = tool("nginx", "/usr/sbin/nginx")
    openssl = tool("openssl")
    for name in ("psql", "pg_dump", "pg_restore", "pg_isready"):
        tool(name)
    moto_server = tool(str(BIN / "moto_server"))

    tmp = Path(tempfile.mkdtemp(prefix="returndesk-deploy-"))
    logs = tmp / "logs"
    logs.mkdir()
    procs = Processes(logs)
    report = Report()
    database, restored = f"returndesk_deploy_{os.getpid()}", f"returndesk_restored_{os.getpid()}"
    ports = {name: free_port() for name in ("web1", "web2", "http", "https", "moto", "hook")}
    print(f"deploy-check in {tmp}; ports {ports}", flush=True)
    hook_server: ThreadingHTTPServer | None = None
    try:
        step("PostgreSQL: a fresh database")
        if subprocess.run(
            ["pg_isready", "-h", PG["host"], "-p", PG["port"]], capture_output=True
        ).returncode:
            clusters = (
                sorted(p.name for p in Path("/etc/postgresql").iterdir())
                if Path("/etc/postgresql").is_dir()
                else []
            )
            if clusters:
                subprocess.run(
                    ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1], "main", "start"],
                    check=False,
                )
            wait_for(
                "PostgreSQL",
                lambda: (
                    subprocess.run(
                        ["pg_isready", "-h", PG["host"], "-p", PG["port"]], capture_output=True
                    ).returncode
                    == 0
                ),
                30,
            )
        psql("postgres", f"DROP DATABASE IF EXISTS {database}")
        psql("postgres", f"CREATE DATABASE {database}")
        print(f"  created {database}")

        step("S3: a moto server on loopback and the bucket")
        procs.start(
            "moto", [moto_server, "-H", "127.0.0.1", "-p", str(ports["moto"])], dict(os.environ)
        )
        s3_url = f"http://127.0.0.1:{ports['moto']}"
        wait_for("moto", lambda: http(s3_url)[0] == 200, 30)
        import boto3

        s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                          aws_access_key_id="deploy-check", aws_secret_access_key="deploy-check")  # fmt: skip
        s3.create_bucket(Bucket=BUCKET)
        print(f"  bucket {BUCKET} at {s3_url}")

        step("TLS certificate for nginx (self-signed, 127.0.0.1)")
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])  # fmt: skip

        from cryptography.fernet import Fernet

        metrics_token = secrets.token_urlsafe(24)
        base = f"https://127.0.0.1:{ports['https']}"
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{database}",
            "RETURNDESK_PRODUCTION": "1",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "RETURNDESK_SECRETS_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": base,
            "RETURNDESK_PUBLIC_URL": base,
            "RETURNDESK_VAR_DIR": str(tmp / "var"),
            "RETURNDESK_S3_BUCKET": BUCKET,
            "RETURNDESK_S3_ENDPOINT_URL": s3_url,
            "RETURNDESK_S3_REGION": "us-east-1",
            "RETURNDESK_S3_ACCESS_KEY_ID": "deploy-check",
            "RETURNDESK_S3_SECRET_ACCESS_KEY": "deploy-check",
            "RETURNDESK_S3_ADDRESSING_STYLE": "path",
            "RETURNDESK_METRICS_TOKEN": metrics_token,
            "RETURNDESK_TRUSTED_PROXIES": "127.0.0.1",
            "RETURNDESK_READY_WORKER_MAX_AGE": "60",
            # the check's webhook receiver is on loopback, which production otherwise refuses
            "RETURNDESK_WEBHOOKS_ALLOW_LOOPBACK": "1",
            "EMAIL_BACKEND": "dummy",
            "WEB_CONCURRENCY": "2",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        returndesk = str(BIN / "returndesk")

        step("migrate, then the merchant, the facility and the keys")
        run([returndesk, "migrate", "--no-input"], env)
        run([returndesk, "createmerchant", "--slug", "acme", "--name", "Acme Outdoor",
             "--currency", "USD", "--timezone", "America/Chicago"], env)  # fmt: skip
        run([returndesk, "createfacility", "--code", "DAL1", "--name", "Dallas returns",
             "--line1", "1 Dock Rd", "--city", "Dallas", "--postal-code", "75201",
             "--country", "US", "--merchant", "acme"], env)  # fmt: skip
        merchant_key = (
            run([returndesk, "apikey", "create", "--merchant", "acme", "--name", "load"], env)
            .strip()
            .splitlines()[-1]
            .strip()
        )
        station_key = (
            run(
                [
                    returndesk,
                    "apikey",
                    "create",
                    "--provider",
                    "--name",
                    "dock",
                    "--facility",
                    "DAL1",
                ],
                env,
            )
            .strip()
            .splitlines()[-1]
            .strip()
        )
        report.check(
            "migrated a fresh database",
            "No planned migration" in run([returndesk, "migrate", "--plan"], env),
        )

        step("two web processes (gunicorn), two workers, nginx in front")
        for name in ("web1", "web2"):
            procs.start(
                name, [returndesk, "serve", "--host", "127.0.0.1", "--port", str(ports[name])], env
            )
        for name in ("worker1", "worker2"):
            procs.start(name, [returndesk, "worker"], env)
        nginx_dir = tmp / "nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (nginx_dir / sub).mkdir(parents=True)
        site = (HERE / "nginx.conf").read_text()
        for old, new in {
            "server 127.0.0.1:8001": f"server 127.0.0.1:{ports['web1']}",
            "server 127.0.0.1:8002": f"server 127.0.0.1:{ports['web2']}",
            "listen 80;": f"listen 127.0.0.1:{ports['http']};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{ports['https']} ssl http2;",
            "/etc/ssl/certs/returndesk.pem": str(cert),
            "/etc/ssl/private/returndesk.key": str(key),
            "/var/log/nginx/returndesk.access.log": str(logs / "nginx-access.log"),
        }.items():
            if old not in site:
                raise RuntimeError(f"deploy/nginx.conf no longer has {old!r}")
            site = site.replace(old, new)
        user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
        conf = nginx_dir / "nginx.conf"
        conf.write_text(
            f"{user}worker_processes 1;\npid {nginx_dir}/nginx.pid;\n"
            f"error_log {logs}/nginx-error.log warn;\nevents {{ worker_connections 512; }}\n"
            f"http {{\n  client_body_temp_path {nginx_dir}/body;\n  proxy_temp_path {nginx_dir}/proxy;\n"
            f"  fastcgi_temp_path {nginx_dir}/fastcgi;\n  uwsgi_temp_path {nginx_dir}/uwsgi;\n"
            f"  scgi_temp_path {nginx_dir}/scgi;\n  access_log off;\n{site}\n}}\n"
        )
        run([nginx, "-t", "-p", str(nginx_dir), "-c", str(conf)])
        procs.start(
            "nginx", [nginx, "-p", str(nginx_dir), "-c", str(conf), "-g", "daemon off;"], env
        )
        for name in ("web1", "web2"):
            wait_for(
                name, lambda n=name: http(f"http://127.0.0.1:{ports[n]}/healthz")[0] == 200, 60
            )
        wait_for(
            "readiness through nginx",
            lambda: http(f"{base}/readyz", cafile=str(cert))[0] == 200,
            90,
        )
        status, body, _ = http(f"{base}/readyz", cafile=str(cert))
        report.check(
            "/readyz through nginx: database, migrations, worker heartbeat",
            status == 200,
            body.decode()[:200],
        )
        plain = http_client.HTTPConnection("127.0.0.1", ports["http"], timeout=10)
        plain.request("GET", "/healthz")
        answer = plain.getresponse()
        report.check(
            "plain HTTP is redirected to HTTPS",
            answer.status == 301 and (answer.getheader("Location") or "").startswith("https://"),
            f"{answer.status} {answer.getheader('Location')}",
        )
        plain.close()
        status, _, _ = http(
            f"{base}/metrics",
            cafile=str(cert),
            headers={"Authorization": f"Bearer {metrics_token}"},
        )
        report.check("/metrics is not reachable through nginx", status == 404, str(status))
        status, _, headers = http(
            f"{base}/healthz", cafile=str(cert), headers={"X-Request-ID": "deploy-check-0001"}
        )
        report.check(
            "X-Request-ID passes nginx and comes back",
            headers.get("X-Request-ID") == "deploy-check-0001",
            headers.get("X-Request-ID", "none"),
        )

        step("a merchant webhook endpoint on loopback")
        hook_server = ThreadingHTTPServer(("127.0.0.1", ports["hook"]), Receiver)
        threading.Thread(target=hook_server.serve_forever, daemon=True).start()
        stats = load.Stats()
        client = load.Client(base, str(cert), stats)
        status, _, _ = client.call("webhook_endpoint", "POST", "/api/v1/webhook-endpoints", merchant_key,
                                   {"url": f"http://127.0.0.1:{ports['hook']}/hook"})  # fmt: skip
        report.check("webhook endpoint registered", status == 201, str(status))

        step(f"mixed load through nginx: {args.threads} threads for {args.seconds:.0f} s")
        started = time.monotonic()
        load_stats = load.run(base=base, cafile=str(cert), merchant_key=merchant_key,
                              station_key=station_key, facility="DAL1", seconds=args.seconds,
                              threads=args.threads)  # fmt: skip
        took = time.monotonic() - started
        summary = load_stats.summary()
        print(json.dumps(summary, indent=1))
        api_requests = summary["requests"] + stats.api_requests
        report.check(
            "load: no server error, no unexpected answer",
            summary["server_errors"] == 0 and summary["errors"] == 0,
            f"{summary['requests']} requests in {took:.0f} s ({summary['requests'] / took:.1f}/s), "
            f"{sum(summary['journeys'].values())} journeys, errors {summary['errors']}"
            + (f"; first: {load_stats.errors[:3]}" if load_stats.errors else ""),
        )

        step("drain: every queue worked off (read from /metrics)")
        auth = {"Authorization": f"Bearer {metrics_token}"}

        def queues() -> dict[str, float]:
            status, body, _ = http(f"http://127.0.0.1:{ports['web1']}/metrics", headers=auth)
            if status != 200:
                return {"unreachable": 1}
            found: dict[str, float] = {}
            for name, labels, value in metric_samples(body):
                if name == "returndesk_queue_depth" and labels["queue"] != "refunds":
                    found[labels["queue"]] = value
                if (
                    name == "returndesk_refunds"
                    and labels["status"] in ("pending", "processing")
                    and labels["provider"] != "manual"
                ):
                    found[f"refunds:{labels['provider']}"] = (
                        found.get(f"refunds:{labels['provider']}", 0) + value
                    )
            return found

        drain_started = time.monotonic()
        try:
            wait_for("the queues to drain", lambda: not any(queues().values()), 240)
            drained = True
        except RuntimeError:
            drained = False
        report.check(
            "queues drained",
            drained,
            f"{time.monotonic() - drain_started:.0f} s; left: { {k: v for k, v in queues().items() if v} }",
        )
        time.sleep(3)  # the last periodic runs finish and log

        step("metrics: both web processes, all their gunicorn workers")
        per_instance: dict[str, float] = {}
        for name in ("web1", "web2"):
            status, body, _ = http(f"http://127.0.0.1:{ports[name]}/metrics", headers=auth)
            report.check(f"/metrics on {name} with the token", status == 200, str(status))
            per_instance[name] = sum(
                value for metric, labels, value in metric_samples(body)
                if metric == "returndesk_http_request_duration_seconds_count" and labels["route"].startswith("api/v1/")
            )  # fmt: skip
        status, _, _ = http(f"http://127.0.0.1:{ports['web1']}/metrics")
        report.check("/metrics without the token is refused", status == 401, str(status))
        report.check(
            "every API request through nginx is in the latency histograms (multiprocess mode)",
            sum(per_instance.values()) == api_requests,
            f"web1 {per_instance['web1']:.0f} + web2 {per_instance['web2']:.0f} = {sum(per_instance.values()):.0f}; sent {api_requests}",
        )
        report.check(
            "nginx spread the load over both web processes",
            all(v > api_requests * 0.2 for v in per_instance.values()),
            str(per_instance),
        )

        step("stop the workers, web processes and nginx")
        for name in ("worker1", "worker2", "nginx", "web1", "web2"):
            procs.stop(name)

        step("no job ran twice, none was lost")
        verify_jobs(report, env, logs, Receiver.seen)

        step("backup and restore")
        backup_and_restore(report, env, tmp, database, restored, s3, returndesk)
    except Exception as exc:  # a step that broke is a failure of the check, shown as such
        report.check("the check ran to its end", False, f"{type(exc).__name__}: {exc}")
    finally:
        if hook_server is not None:
            hook_server.shutdown()
        procs.stop_all()
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            for db in (database, restored):
                try:
                    psql("postgres", f"DROP DATABASE IF EXISTS {db}")
                except RuntimeError as exc:
                    print(f"  could not drop {db}: {exc}")

    print("\n== summary")
    passed = len(report.rows) - len(report.failed)
    print(f"{passed} passed, {len(report.failed)} failed")
    if report.failed:
        print("FAIL: " + "; ".join(report.failed))
        print(f"logs kept in {logs}")
        return 1
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}")
    print("PASS")
    return 0


def verify_jobs(report: Report, env: dict[str, str], logs: Path, received: Counter[str]) -> None:
    """The proofs, against the database the deployment wrote and the workers' own logs."""
    os.environ.update(
        {
            k: v
            for k, v in env.items()
            if k.startswith(("DATABASE_URL", "RETURNDESK_", "SECRET_KEY", "ALLOWED_HOSTS"))
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returndesk.config.settings")
    import django

    django.setup()
    from django.db.models import Count, Q
    from django_scopes import scopes_disabled
    from django_tasks_db.models import DBTaskResult

    from returndesk.core.models import PeriodicJobState, Upload
    from returndesk.notifications.models import EmailDelivery, OutboxMessage, WebhookDelivery
    from returndesk.notifications.webhooks import EVENT_TYPES
    from returndesk.refunds.models import Refund, RefundAttempt, RefundTrigger, Settlement
    from returndesk.returns.models import Return
    from returndesk.shipping.models import Label

    with scopes_disabled():
        states = dict(OutboxMessage.objects.values_list("state").annotate(n=Count("pk")))
        total = sum(states.values())
        report.check(
            "outbox: every event fanned out (none pending or failed)",
            set(states) <= {"delivered"} and total > 0,
            f"{total} events {states}",
        )
        webhook_events = OutboxMessage.objects.filter(type__in=EVENT_TYPES)
        without = webhook_events.exclude(
            event_id__in=WebhookDelivery.objects.values("event_id")
        ).count()
        twice = doubled(WebhookDelivery.objects, "endpoint_id", "event_id")
        deliveries = WebhookDelivery.objects.count()
        report.check(
            "fan-out exactly once: one webhook delivery per webhook event and endpoint",
            without == 0 and twice == 0 and deliveries == webhook_events.count(),
            f"{webhook_events.count()} webhook events, {deliveries} deliveries, {without} without one, {twice} doubled",
        )
        delivered = dict(WebhookDelivery.objects.values_list("state").annotate(n=Count("pk")))
        ids = set(WebhookDelivery.objects.values_list("event_id", flat=True))
        dup = {k: v for k, v in received.items() if v > 1}
        report.check(
            "webhooks: every delivery reached the receiver exactly once",
            set(delivered) <= {"delivered"} and set(received) == ids and not dup,
            f"states {delivered}; receiver saw {len(received)} ids, {sum(received.values())} requests, {len(dup)} twice",
        )
        emails = dict(EmailDelivery.objects.values_list("state").annotate(n=Count("pk")))
        email_twice = doubled(EmailDelivery.objects, "message_id", "to_email")
        report.check(
            "e-mails: every one sent, none twice",
            set(emails) <= {"sent"} and email_twice == 0,
            f"{emails}, {email_twice} doubled",
        )
        triggers = RefundTrigger.objects.count()
        undone = RefundTrigger.objects.filter(done_at__isnull=True).count()
        report.check(
            "refund triggers: every one done",
            triggers > 0 and undone == 0,
            f"{triggers} triggers, {undone} not done",
        )
        refunds = {
            f"{row['provider']}:{row['status']}": row["n"]
            for row in Refund.objects.values("provider", "status")
            .annotate(n=Count("pk"))
            .order_by()
        }
        paid_twice = doubled(RefundAttempt.objects.filter(outcome="succeeded"), "refund_id")
        stuck = Refund.objects.exclude(provider="manual").exclude(status="succeeded").count()
        report.check(
            "refunds: none paid twice, every non-manual one succeeded",
            paid_twice == 0 and stuck == 0 and bool(refunds),
            f"{refunds}; {paid_twice} with two successful attempts",
        )
        inspected = Return.objects.filter(Q(inspections__isnull=False)).distinct()
        unsettled = inspected.exclude(pk__in=Settlement.objects.values("return_request_id")).count()
        settled_twice = doubled(Settlement.objects, "return_request_id", "stage")
        report.check(
            "every inspected return settled, no stage settled twice",
            unsettled == 0 and settled_twice == 0,
            f"{inspected.count()} inspected, {unsettled} unsettled, {settled_twice} settled twice",
        )
        tasks = dict(DBTaskResult.objects.values_list("status").annotate(n=Count("pk")))
        multi = sum(
            1 for w in DBTaskResult.objects.values_list("worker_ids", flat=True) if len(w or []) > 1
        )
        report.check(
            "ad-hoc tasks: none waiting, failed or run by two workers",
            not ({"READY", "RUNNING", "FAILED"} & set(tasks)) and multi == 0,
            f"{tasks}, {multi} run twice",
        )

        # periodic jobs: the workers' JSON logs against the job table
        runs: dict[str, list[tuple[datetime, datetime, str, bool]]] = defaultdict(list)
        unparsed = 0
        for name in ("worker1", "worker2"):
            for line in (logs / f"{name}.log").read_text().splitlines():
                if not line.startswith("{"):
                    unparsed += 1
                    continue
                record = json.loads(line)
                if record.get("logger") == "returndesk.core.scheduling" and "started_at" in record:
                    runs[record["job"]].append((datetime.fromisoformat(record["started_at"]),
                                                datetime.fromisoformat(record["finished_at"]),
                                                record["worker"], bool(record["lease_kept"])))  # fmt: skip
        table = dict(PeriodicJobState.objects.values_list("name", "run_count"))
        overlaps, lost_lease, mismatched = [], [], []
        for job, spans in runs.items():
            spans.sort()
            for a, b in itertools.pairwise(spans):
                if b[0] < a[1]:
                    overlaps.append(
                        f"{job}: {a[2]} {a[0]:%T.%f}-{a[1]:%T.%f} and {b[2]} {b[0]:%T.%f}"
                    )
            lost_lease += [job for s in spans if not s[3]]
        for job, count in table.items():
            if count != len(runs.get(job, [])):
                mismatched.append(f"{job}: table {count}, logs {len(runs.get(job, []))}")
        by_worker = Counter(
            s[2].split(":")[0] + ":" + s[2].split(":")[1] for spans in runs.values() for s in spans
        )
        report.check("worker logs are JSON lines", unparsed == 0, f"{unparsed} other lines")
        report.check(
            "periodic jobs: no two runs of a job overlapped, every run kept its lease, table = logs",
            not overlaps and not lost_lease and not mismatched and sum(table.values()) > 0,
            f"{sum(len(s) for s in runs.values())} runs of {len(runs)} jobs by {len(by_worker)} workers {dict(by_worker)}"
            + (f"; overlaps {overlaps[:3]}" if overlaps else "")
            + (f"; mismatched {mismatched[:3]}" if mismatched else ""),
        )
        # request ids in the web logs
        raw_web = [
            line
            for n in ("web1", "web2")
            for line in (logs / f"{n}.log").read_text().splitlines()
            if line.strip()
        ]
        web_lines = [json.loads(line) for line in raw_web if line.startswith("{")]
        report.check(
            "web logs (gunicorn and Django) are JSON lines",
            len(web_lines) == len(raw_web),
            f"{len(raw_web) - len(web_lines)} other lines",
        )
        traced = [r for r in web_lines if r.get("request_id") == "deploy-check-0001"]
        report.check(
            "the web logs are JSON with request ids",
            bool(traced)
            and all(
                "request_id" in r for r in web_lines if r.get("logger") == "returndesk.request"
            ),
            f"{len(web_lines)} JSON lines, {len(traced)} for deploy-check-0001",
        )

        # files: every upload and label PDF the database names is in the bucket
        import boto3

        s3 = boto3.client("s3", endpoint_url=os.environ["RETURNDESK_S3_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="deploy-check", aws_secret_access_key="deploy-check")  # fmt: skip
        keys = {
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])
        }
        uploads = set(Upload.objects.values_list("file", flat=True))
        labels = set(Label.objects.exclude(document="").values_list("document", flat=True))
        report.check(
            "S3: every photo and label PDF is in the bucket",
            bool(uploads) and bool(labels) and uploads | labels <= keys,
            f"{len(uploads)} photos, {len(labels)} label PDFs, {len(keys)} objects, {len((uploads | labels) - keys)} missing",
        )


def doubled(rows: Any, *fields: str) -> int:
    """How many values of `fields` more than one row holds (what a unique constraint forbids)."""
    from django.db.models import Count

    return int(rows.values(*fields).annotate(n=Count("pk")).filter(n__gt=1).count())


def table_figures(database: str) -> tuple[dict[str, int], dict[str, str]]:
    tables = psql(
        database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    ).split()
    counts = {}
    for table in tables:
        counts[table] = int(psql(database, f'SELECT count(*) FROM "{table}"'))
    sums = {
        table: psql(
            database,
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM \"{table}\" t",
        )
        for table in KEY_TABLES
    }
    return counts, sums


def backup_and_restore(report: Report, env: dict[str, str], tmp: Path, database: str, restored: str,
                       s3: Any, returndesk: str) -> None:  # fmt: skip
    dump, media = tmp / "returndesk.dump", tmp / "media-backup"
    run(
        [
            "pg_dump",
            "-h",
            PG["host"],
            "-p",
            PG["port"],
            "-U",
            PG["user"],
            "-Fc",
            "-f",
            str(dump),
            database,
        ]
    )
    print(f"  pg_dump: {dump.stat().st_size / 1e6:.1f} MB")
    print("  " + run([returndesk, "media", "backup", str(media)], env).strip())
    psql("postgres", f"DROP DATABASE IF EXISTS {restored}")
    psql("postgres", f"CREATE DATABASE {restored}")
    run(
        [
            "pg_restore",
            "-h",
            PG["host"],
            "-p",
            PG["port"],
            "-U",
            PG["user"],
            "--no-owner",
            "--exit-on-error",
            "-d",
            restored,
            str(dump),
        ]
    )
    s3.create_bucket(Bucket=RESTORED_BUCKET)
    restored_env = {**env, "DATABASE_URL": env["DATABASE_URL"].rsplit("/", 1)[0] + f"/{restored}",
                    "RETURNDESK_S3_BUCKET": RESTORED_BUCKET}  # fmt: skip
    for line in (
        run([returndesk, "media", "restore", str(media)], restored_env).strip().splitlines()
    ):
        print(f"  {line}")
    counts, sums = table_figures(database)
    counts2, sums2 = table_figures(restored)
    differing = [t for t in counts if counts[t] != counts2.get(t)]
    report.check("restore: every table has the same number of rows", not differing and counts == counts2,
                 f"{len(counts)} tables, {sum(counts.values())} rows; differing: {differing[:5]}")  # fmt: skip
    changed = [t for t in KEY_TABLES if sums[t] != sums2[t]]
    report.check("restore: key tables are identical row for row (md5)", not changed,
                 f"{', '.join(f'{t}={sums[t][:8]}' for t in KEY_TABLES[:3])}...; changed: {changed}")  # fmt: skip

    def objects(bucket: str) -> dict[str, str]:
        found = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                found[o["Key"]] = o["ETag"]
        return found

    original, copy = objects(BUCKET), objects(RESTORED_BUCKET)
    report.check("restore: the restored bucket holds every object, byte for byte (ETag)", original == copy and bool(original),
                 f"{len(original)} objects, {len(copy)} restored, {sum(1 for k in original if copy.get(k) != original[k])} different")  # fmt: skip
    plan = run([returndesk, "migrate", "--plan"], restored_env)
    report.check(
        "restore: the restored database needs no migration", "No planned migration" in plan
    )


if __name__ == "__main__":
    sys.exit(main())
