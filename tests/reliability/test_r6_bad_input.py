"""R6 of QUALITY.md, generated over the API: every operation that takes a body answers a
malformed JSON body with 400, a NUL character in its text with 422 (PostgreSQL cannot store
one), a wrong content type with 415 and a body over the limit with 413,
each as problem+json, and writes nothing; every operation that names a return answers a
mistyped RAN with 422 `ran_invalid` (the check character), not 404 and not a 5xx.

The operations are read from the served OpenAPI document (walk.py), so a new one is covered.
The inbound webhooks (no API key) keep every body they are sent, rejected ones included, for
support (tests/shipping, tests/payments, tests/integrations): they are held to the 413 only.
Stale, tampered, duplicate and out-of-order webhooks: test_r6_webhooks.py and the tests that
docs/reliability.md lists.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client

from returndesk.api.middleware import body_limit
from returndesk.core.codes import format_ran, normalize_ran
from tests.conftest import ApiClient
from tests.reliability.walk import Operation, operations
from tests.reliability.world import World

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    return {m._meta.label: m._base_manager.count() for m in apps.get_models()}


def send(op: Operation, key: ApiClient, values: dict[str, Any], raw: bytes, media: str) -> Any:
    return Client().generic(
        op.method,
        op.url(values),
        raw,
        content_type=media,
        headers={"Authorization": f"Bearer {key.key}"},
    )


def problem_code(response: Any) -> str:
    assert response["Content-Type"] == "application/problem+json", response.content[:200]
    return str(json.loads(response.content)["code"])


def mistype(ran: str) -> str:
    """`ran` with one symbol changed: the check character catches it."""
    code = normalize_ran(ran)
    changed = code[:5] + ("7" if code[5] != "7" else "8") + code[6:]
    return format_ran(changed)


def test_every_body_taking_operation_refuses_bad_bodies_and_writes_nothing(
    world: World,
) -> None:
    failures = []
    before = row_counts()
    bodied = [op for op in operations() if op.method in ("POST", "PUT", "PATCH")]
    for op in bodied:
        limit = body_limit(op.url(world.values))
        assert limit in (settings.RETURNDESK_MAX_BODY, settings.RETURNDESK_MAX_BULK_BODY)
        over = b'{"x": "' + b"x" * limit + b'"}'
        cases: list[tuple[bytes, str, int, str]] = [(over, "application/json", 413, "too_large")]
        if op.keyed:
            wrong = "application/json" if op.media_type == "multipart/form-data" else "text/csv"
            cases += [
                (b'{"order_number": "1001",', "application/json", 400, "malformed_json"),
                (b'{"note": "a\\u0000b"}', "application/json", 422, "validation_error"),
                (b"order_number,email\n1001,x@example.com\n", wrong, 415, "unsupported_media_type"),
            ]
            if op.media_type == "multipart/form-data":
                del cases[1:3]  # a multipart operation is refused JSON of any shape (415 above)
        for raw, media, status, code in cases:
            response = send(op, world.a_key, world.values, raw, media)
            if response.status_code != status or problem_code(response) != code:
                failures.append(
                    f"{op.label} ({media}, {len(raw)} bytes): {response.status_code} "
                    f"{response.content[:200]!r}, expected {status} {code}"
                )
    after = row_counts()
    # Inbound webhooks keep what they were sent; nothing else may have been written.
    written = {
        label: after[label] - before[label] for label in after if after[label] != before[label]
    }
    assert not failures, "\n".join(failures)
    assert not written, f"bad bodies wrote rows: {written}"


def test_every_operation_naming_a_return_says_a_mistyped_ran_is_mistyped(world: World) -> None:
    failures = []
    typo = mistype(world.values["ran"])
    for op in operations():
        if "ran" not in op.path_names:
            continue
        values = {**world.values, "ran": typo}
        answers = []
        for key in (world.a_key, world.a_station):
            body = op.minimal_body({})
            raw = json.dumps(body).encode() if body is not None else b""
            response = send(op, key, values, raw, op.media_type or "application/json")
            answers.append(response)
        codes = [(r.status_code, problem_code(r) if r.status_code >= 400 else "") for r in answers]
        if (422, "ran_invalid") not in codes or any(s not in (403, 422) for s, _ in codes):
            failures.append(f"{op.label}: {codes}")
    assert not failures, "a mistyped RAN must be 422 ran_invalid (403 for a key that may "
    "not use the operation):\n" + "\n".join(failures)
