from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from returndesk.policies.models import PolicyVersion
from returndesk.returns.models import Return
from tests.conftest import ApiClient
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db


def draft(api: ApiClient, **changes: Any) -> dict[str, Any]:
    document = api.get("/policy").json()["document"]
    document.update(changes)
    return document


def test_simulation_compares_a_draft_with_the_current_policy(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    api.post("/returns", request())
    api.post(
        "/returns", request(lines=[{"line_id": "2", "quantity": 1, "reason": "no_longer_needed"}])
    )
    # delivered 4 days before the returns were made: a 2-day window refuses both
    response = api.post("/policy/simulate", {"policy": draft(api, window_days=2)})
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["returns"] == 2 and report["lines"] == 2
    assert report["current"]["authorized"] == 2
    assert report["draft"]["rejected"] == 2
    assert report["draft"]["refunds"] == 0 and report["current"]["refunds"] > 0
    assert report["changed_returns"] == 2
    biggest = report["largest_differences"][0]
    assert biggest["current"]["outcome"] == "authorized"
    assert biggest["draft"]["outcome"] == "rejected"
    assert biggest["refund_difference"] < 0
    assert PolicyVersion.objects.with_scopes_disabled().count() == 1  # nothing published
    assert Return.objects.with_scopes_disabled().count() == 2


def test_a_restocking_fee_shows_in_the_draft_totals(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    api.post("/returns", request())
    document = draft(api)
    document["fees"]["restocking_percent"] = 10
    report = api.post("/policy/simulate", {"policy": document}).json()
    assert report["draft"]["fees"] > 0 and report["current"]["fees"] == 0
    assert report["draft"]["refunds"] == report["current"]["refunds"] - report["draft"]["fees"]


def test_an_invalid_draft_is_refused_with_its_field(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    response = api.post("/policy/simulate", {"policy": draft(api, window_days="soon")})
    assert response.status_code == 422
    assert json.loads(response.content)["errors"][0]["field"] == "window_days"


def test_another_merchant_simulates_over_its_own_returns_only(
    api: ApiClient,
    outsider_api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    api.post("/returns", request())
    report = outsider_api.post("/policy/simulate", {"policy": draft(outsider_api)}).json()
    assert report["returns"] == 0
    api.put("/policy", draft(api, window_days=45))
    assert outsider_api.get("/policy/versions/2").status_code == 404
    assert outsider_api.get("/policy").json()["version"] == 1


def test_the_simulate_policy_command_prints_the_comparison(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    api.post("/returns", request())
    path = tmp_path / "draft.json"
    path.write_text(json.dumps(draft(api, window_days=2)))
    out = StringIO()
    call_command("simulate_policy", "--merchant", "acme", "--policy", str(path), stdout=out)
    text = out.getvalue()
    assert "1 returns, 1 lines" in text
    assert "rejected" in text and "1 returns get another answer" in text
