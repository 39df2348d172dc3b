"""R4 of QUALITY.md: schemathesis over the whole OpenAPI document (/api/v1/openapi.json), with
a merchant key and with a provider key, finds no 5xx and no answer that breaks the document.

Every operation of the served document is fuzzed, none left out: schemathesis generates
requests that fit the schema and requests that do not, and about half of them have their path
parameters (and the body fields that name an object) replaced by merchant A's real objects from
the world (world.py), so operations find something to work on (a return in every state, a
receipt, a refund, an exchange, a webhook delivery...) instead of answering 404 every time.

Checks on every answer: not a server error; its status, content type, headers and body are the
ones the document declares for the operation; an operation that declares a key answers 401
without one (ignored_auth); a method the document does not list answers 405.

The inbound webhooks (carriers, Stripe, Shopify, WooCommerce) are fuzzed too, but without their
senders' signatures, so what is reached is the refusal path (401/404, and the raw row kept);
their signed paths have tests of their own with real signatures (tests/shipping,
tests/payments, tests/integrations), which a generator cannot forge.

Examples per operation and key: a few in `make test`, many under `make soak` (budget.py).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from schemathesis import GenerationMode
from schemathesis import checks as sc

from tests.conftest import ApiClient
from tests.reliability.budget import scaled
from tests.reliability.world import OBJECT_FIELDS, World

pytestmark = pytest.mark.django_db

EXAMPLES = scaled(ci=6, soak=150)
CHECKS = [
    sc.not_a_server_error,
    sc.status_code_conformance,
    sc.content_type_conformance,
    sc.response_headers_conformance,
    sc.response_schema_conformance,
    sc.ignored_auth,
    sc.unsupported_method,
]


@contextmanager
def connections_kept_open() -> Iterator[None]:
    """Django's WSGI handler closes the database connection when a request ends, and the
    test's transaction with it on PostgreSQL; keep it open as Django's test client does
    (django.test.client.ClientHandler), which also connects the handler again after each of
    its requests, so this goes around the calls and not around the test."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def load_schema() -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


def with_objects(case: Any, world: World) -> None:
    """Point the case at A's objects: its path parameters by name, and the body fields that
    name an object."""
    if case.path_parameters:
        case.path_parameters = {
            name: world.values.get(name, value) for name, value in case.path_parameters.items()
        }
    if isinstance(case.body, dict):
        case.body = {
            name: world.values[OBJECT_FIELDS[name]] if name in OBJECT_FIELDS else value
            for name, value in case.body.items()
        }


def fuzz(operation: Any, key: ApiClient, world: World) -> None:
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=strategy, on_objects=st.booleans())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def run(case: Any, on_objects: bool) -> None:
        if on_objects:
            with_objects(case, world)
        case.call_and_validate(headers={"Authorization": f"Bearer {key.key}"}, checks=CHECKS)

    run()


def fuzz_all(world: World, key: ApiClient) -> None:
    with connections_kept_open():
        fuzz_each(world, key)


def fuzz_each(world: World, key: ApiClient) -> None:
    schema = load_schema()
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # a document schemathesis cannot read fails here, loudly
        fuzzed += 1
        try:
            fuzz(operation, key, world)
        except (Exception, BaseExceptionGroup) as exc:  # FailureGroup: the others go on
            failures.append(f"{operation.label}:\n{exc}")
    assert fuzzed >= 70, f"only {fuzzed} operations in the document: is it complete?"
    assert not failures, "\n\n".join(failures)


def test_with_a_merchant_key(world: World) -> None:
    fuzz_all(world, world.a_key)


def test_with_a_provider_key(world: World) -> None:
    fuzz_all(world, world.a_station)


def test_no_two_models_of_the_api_share_a_schema_name() -> None:
    """Ninja names a model's schema in the document by its class name alone, and the last
    model of a name silently replaces the others: answers were checked against another
    module's model of the same name (two StoreCreditOut, two DispositionOut, two AttemptOut)."""
    import returndesk.api as package

    by_name: dict[str, set[str]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"returndesk.api.{info.name}")
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseModel)
                and not name.startswith("_")  # a private base: no schema of its own
                and value.__module__.startswith("returndesk.")
            ):
                by_name.setdefault(name, set()).add(f"{value.__module__}.{value.__qualname__}")
    shared = {name: sorted(where) for name, where in by_name.items() if len(where) > 1}
    assert not shared, f"rename one of each: {shared}"
