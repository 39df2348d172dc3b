"""The round trips of creating a return and of an eligibility check (B2 of QUALITY.md): pinned,
so a change that adds a query to these hot paths shows up here before it shows up in the
benchmark."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returndesk.returns import services
from returndesk.returns.models import Return
from tests.conftest import ApiClient
from tests.returns.test_returns_api import order, request  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

# Transaction control is not counted: SQLite and PostgreSQL report it differently.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "RELEASE SAVEPOINT", "SAVEPOINT")


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].upper().startswith(CONTROL)]


def eligibility_body() -> dict[str, Any]:
    body = request()
    body.pop("channel")
    return body


def measured(api: ApiClient, path: str, body: dict[str, Any]) -> tuple[Any, list[str], list[str]]:
    # The key's last-used stamp, the merchant's default policy and the provider's row are
    # written here, once, not below.
    assert api.post("/eligibility", eligibility_body()).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = api.post(path, body)
    everything = [q["sql"] for q in captured.captured_queries]
    return response, statements(captured), everything


def test_creating_a_return_takes_seventeen_statements(api: ApiClient, order: dict) -> None:  # noqa: F811
    # key; the order (locked); its lines with the units other returns hold (locked); their
    # products; the policy version; the provider (is risk history shared?); every figure of
    # the risk score and the customer's history (one statement of subqueries); the return;
    # its lines; the created event and its outbox row; the status; the authorized event and
    # its outbox row; the refunds' trigger; the return read back and its lines for the answer.
    response, sql, everything = measured(api, "/returns", request())
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "authorized"
    assert len(sql) == 17, "\n".join(sql)
    # One transaction (a savepoint here, inside the test's transaction): neither the insert
    # nor the first transition takes a savepoint of its own.
    assert sum(s.upper().startswith("SAVEPOINT") for s in everything) == 1
    # The new row is neither locked nor read again inside the transaction: it is read once,
    # for the answer.
    assert sum(s.startswith('SELECT "returns_return"."id"') for s in sql) == 1
    # The answer is what a read gives.
    answer = response.json()
    read = api.get(f"/returns/{answer['ran']}").json()
    assert {key: read[key] for key in answer} == answer


def test_an_eligibility_check_takes_seven_statements(api: ApiClient, order: dict) -> None:  # noqa: F811
    response, sql, _ = measured(api, "/eligibility", eligibility_body())
    assert response.status_code == 200, response.content
    assert len(sql) == 7, "\n".join(sql)


def test_a_ran_already_taken_is_drawn_again(
    api: ApiClient,
    order: dict,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = api.post("/returns", request()).json()
    taken = first["ran"].replace("-", "")
    draws = iter([taken, taken])
    real = services.generate_ran
    monkeypatch.setattr(services, "generate_ran", lambda: next(draws, None) or real())
    response = api.post(
        "/returns", request(lines=[{"line_id": "2", "quantity": 1, "reason": "wrong_size"}])
    )
    assert response.status_code == 201, response.content
    assert response.json()["ran"] != first["ran"]
    assert Return.objects.with_scopes_disabled().count() == 2
    events = api.get(f"/returns/{response.json()['ran']}/events").json()["data"]
    assert [e["type"] for e in events] == ["return.created", "return.authorized"]
