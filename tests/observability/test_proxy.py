"""Behind a trusted reverse proxy the client's address comes from X-Forwarded-For; from anyone
else the header changes nothing."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from returndesk.observability.middleware import ForwardedForMiddleware


def client_of(settings, peer: str, forwarded: str | None) -> str:  # type: ignore[no-untyped-def]
    seen: dict[str, str] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen["addr"] = request.META["REMOTE_ADDR"]
        return HttpResponse()

    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = RequestFactory().get("/", REMOTE_ADDR=peer, headers=headers)
    ForwardedForMiddleware(view)(request)
    return seen["addr"]


@pytest.mark.parametrize(
    ("proxies", "peer", "forwarded", "client"),
    [
        ([], "127.0.0.1", "203.0.113.9", "127.0.0.1"),  # no trusted proxy: nothing changes
        (["127.0.0.1"], "127.0.0.1", "203.0.113.9", "203.0.113.9"),
        (["127.0.0.1"], "198.51.100.7", "203.0.113.9", "198.51.100.7"),  # not from the proxy
        (["10.0.0.0/8"], "10.0.0.5", "6.6.6.6, 203.0.113.9, 10.0.0.4", "203.0.113.9"),
        (["127.0.0.1"], "127.0.0.1", "not-an-address", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", None, "127.0.0.1"),
        (["::1"], "::1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_behind_a_trusted_proxy(  # type: ignore[no-untyped-def]
    settings, proxies: list[str], peer: str, forwarded: str | None, client: str
) -> None:
    settings.RETURNDESK_TRUSTED_PROXIES = proxies
    assert client_of(settings, peer, forwarded) == client
