"""Structured logs: the JSON formatter, the context filter, and the request id the middleware
binds to every record of a request and returns on the response."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from returndesk.core.logs import ContextFilter, JsonFormatter, log_context, valid_request_id
from returndesk.core.models import PeriodicJobState
from returndesk.core.scheduling import PeriodicJob, ensure_job_rows, run_due_jobs


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged, as the production handler writes it: JSON lines with the filter."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    requests = logging.getLogger("returndesk.request")  # INFO in JSON mode (settings LOGGING)
    previous = root.level, requests.level
    root.setLevel(logging.INFO)
    requests.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(previous[0])
    requests.setLevel(previous[1])


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_a_record_is_one_json_object_with_its_context_and_extras(json_log: io.StringIO) -> None:
    logger = logging.getLogger("returndesk.tests")
    with log_context(request_id="abc123"), log_context(job="dispatch_outbox"):
        logger.warning("hello %s", "world", extra={"ran": "R7K2", "count": 3})
    logger.info("outside")
    first, second = lines(json_log)
    assert first["message"] == "hello world"
    assert first["level"] == "WARNING"
    assert first["logger"] == "returndesk.tests"
    assert first["request_id"] == "abc123"
    assert first["job"] == "dispatch_outbox"
    assert first["ran"] == "R7K2" and first["count"] == 3
    assert str(first["time"]).endswith("Z")
    assert "request_id" not in second and second["message"] == "outside"


def test_an_exception_is_one_line_with_its_traceback(json_log: io.StringIO) -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("returndesk.tests").exception("failed")
    raw = json_log.getvalue().strip()
    assert "\n" not in raw  # one line, whatever the message holds
    (record,) = lines(json_log)
    assert "ValueError: boom" in str(record["exc_info"])


def test_the_text_format_shows_the_context() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hi", None, None)
    with log_context(request_id="r1"):
        ContextFilter().filter(record)
    assert logging.Formatter("%(message)s%(context)s").format(record) == "hi [request_id=r1]"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("4bf92f3577b34da6a3ce929d0e0e4736", True),
        ("req-2026.11:abc_1", True),
        ("", False),
        ("two words", False),
        ("line\nbreak", False),
        ('quote"', False),
        ("x" * 129, False),
        ("<script>", False),
    ],
)
def test_request_ids_are_validated(given: str, kept: bool) -> None:
    assert (valid_request_id(given) == given) is kept


def test_the_request_id_is_returned_and_on_every_record_of_the_request(
    db: None, json_log: io.StringIO
) -> None:
    client = Client()
    given = client.get("/nothing-here", headers={"X-Request-ID": "trace-0001"})
    assert given.status_code == 404
    assert given["X-Request-ID"] == "trace-0001"
    made = client.get("/healthz", headers={"X-Request-ID": "not valid\r\nX-Evil: 1"})
    assert made["X-Request-ID"] != "not valid\r\nX-Evil: 1"
    assert len(made["X-Request-ID"]) == 32
    other = client.get("/healthz")
    assert other["X-Request-ID"] not in {made["X-Request-ID"], "trace-0001"}
    records = lines(json_log)
    not_found = [r for r in records if r["logger"] == "django.request"]
    assert not_found and all(r["request_id"] == "trace-0001" for r in not_found)
    requests = [r for r in records if r["logger"] == "returndesk.request"]
    assert {r["request_id"] for r in requests} == {
        "trace-0001",
        made["X-Request-ID"],
        other["X-Request-ID"],
    }
    line = next(r for r in requests if r["request_id"] == "trace-0001")
    assert line["status"] == 404 and line["route"] == "unmatched" and line["method"] == "GET"
    assert isinstance(line["duration_ms"], float)


def test_a_periodic_job_logs_with_its_job_and_run_id(db: None, json_log: io.StringIO) -> None:
    jobs = (PeriodicJob("log_something", timedelta(minutes=1), f"{__name__}.job_that_logs"),)
    ensure_job_rows(jobs)
    run_due_jobs(worker_id="w1", jobs=jobs)
    PeriodicJobState.objects.filter(name="log_something").update(next_run_at=timezone.now())
    run_due_jobs(worker_id="w2", jobs=jobs)
    records = lines(json_log)
    inside = [r for r in records if r["message"] == "working"]
    ran = [r for r in records if r["message"] == "periodic job log_something ran"]
    assert len(inside) == 2 and len(ran) == 2
    assert {r["job"] for r in inside} == {"log_something"}
    assert inside[0]["run_id"] != inside[1]["run_id"]
    assert [r["run_id"] for r in ran] == [r["run_id"] for r in inside]
    assert [r["worker"] for r in ran] == ["w1", "w2"]
    assert all(r["ok"] is True and r["lease_kept"] is True for r in ran)
    assert all(str(r["started_at"]) <= str(r["finished_at"]) for r in ran)


def job_that_logs() -> None:
    logging.getLogger("returndesk.tests").info("working")
