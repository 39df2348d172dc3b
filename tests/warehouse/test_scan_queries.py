"""The round trips of one receiving scan (B3 of QUALITY.md): pinned, so a change that adds a
query to the hot path shows up here before it shows up in the benchmark."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import ApiClient
from tests.warehouse.conftest import scan

pytestmark = pytest.mark.django_db

# Transaction control is not counted: SQLite and PostgreSQL report it differently.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "RELEASE SAVEPOINT", "SAVEPOINT")


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].upper().startswith(CONTROL)]


def scanned(station: ApiClient, code: str) -> tuple[Any, list[str], list[str]]:
    station.get("/receipts/rcpt_none")  # the key's last-used stamp is written here, not below
    with CaptureQueriesContext(connection) as captured:
        response = scan(station, code)
    assert response.status_code == 201, response.content
    everything = [q["sql"] for q in captured.captured_queries]
    return response, statements(captured), everything


def test_a_scan_by_tracking_number_takes_twelve_statements(
    station: ApiClient, labelled: dict
) -> None:
    # key; the key's facilities (the scanned one among them) with their merchants; the label;
    # the return locked; its receipt (none); the receipt; the return lines; the receipt lines;
    # the status; the timeline event; the outbox row; the refunds' trigger (one upsert: money
    # may be due on receipt).
    response, sql, everything = scanned(station, labelled["label"]["tracking_number"])
    assert response.json()["outcome"] == "received"
    assert len(sql) == 12, "\n".join(sql)
    # The facility comes with the key: it is not read again by its code.
    assert sum('FROM "tenants_facility"' in s for s in sql) == 1
    # One transaction (a savepoint here, inside the test's transaction): the status change
    # takes no savepoint of its own.
    assert sum(s.upper().startswith("SAVEPOINT") for s in everything) == 1
    # The facility's merchants are read once, with the key.
    assert sum('"tenants_facility_merchants"' in s for s in sql) == 1
    # The return is read once (locked), never re-read after its update.
    assert sum(s.startswith("SELECT") and 'FROM "returns_return"' in s for s in sql) == 1
    # The answer comes from what was written: nothing reads the receipt after inserting it.
    inserted = next(i for i, s in enumerate(sql) if s.startswith('INSERT INTO "warehouse_receipt"'))
    assert not any('FROM "warehouse_receipt' in s for s in sql[inserted:])


@pytest.mark.postgres_only
def test_the_return_is_locked_once(station: ApiClient, labelled: dict) -> None:
    _, sql, _ = scanned(station, labelled["label"]["tracking_number"])
    assert sum("FOR UPDATE" in s for s in sql) == 1


def test_a_scan_by_ran_takes_one_more_statement(station: ApiClient, labelled: dict) -> None:
    # The label lookup finds nothing (one query for active and voided labels together), then
    # the RAN names the return.
    response, sql, _ = scanned(station, labelled["ran"])
    assert response.json()["receipt"]["matched_by"] == "ran"
    assert len(sql) == 13, "\n".join(sql)
    assert sum('FROM "shipping_label"' in s for s in sql) == 1


def test_the_answer_is_what_a_read_gives(station: ApiClient, labelled: dict) -> None:
    response, _, _ = scanned(station, labelled["label"]["tracking_number"])
    receipt = response.json()["receipt"]
    assert station.get(f"/receipts/{receipt['id']}").json() == receipt
