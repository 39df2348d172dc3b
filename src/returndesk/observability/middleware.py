"""The outermost middleware: the request id (taken from a valid X-Request-ID or made here) bound
to every log record of the request and sent back on the response; the request's latency into
the Prometheus histogram by route and status; one structured log line per request. And the
client's address behind a trusted reverse proxy."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.log import log_response

from returndesk.core.logs import bind_context, new_request_id, unbind_context, valid_request_id
from returndesk.observability.metrics import observe_request

logger = logging.getLogger("returndesk.request")
REQUEST_ID_HEADER = "X-Request-ID"


def route_of(request: HttpRequest) -> str:
    """The URL pattern the request resolved to, never the raw path, so the label's values are
    bounded: `api/v1/returns/<ran>/label.pdf`. (Not the pattern's name: Django Ninja names a
    path after its first operation, so GET and POST /returns would share `return_create`.)
    `static` for static files, `unmatched` for what resolved to nothing."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.route or match.view_name
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = valid_request_id(request.META.get("HTTP_X_REQUEST_ID")) or new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = bind_context(request_id=request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            elapsed = time.perf_counter() - started
            response[REQUEST_ID_HEADER] = request_id
            if response.status_code >= 400:
                # What Django's handler would log after the middleware, logged here while the
                # request id is bound; Django then sees it logged and stays quiet.
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
            route = route_of(request)
            observe_request(route, request.method or "", response.status_code, elapsed)
            logger.info(
                "%s %s %s",
                request.method,
                route,
                response.status_code,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": request.META.get("REMOTE_ADDR", ""),
                },
            )
            return response
        finally:
            unbind_context(token)


@cache
def _trusted(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(
    address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


class ForwardedForMiddleware:
    """Behind a reverse proxy every request comes from the proxy. When REMOTE_ADDR is one of
    RETURNDESK_TRUSTED_PROXIES, the client is the right-most X-Forwarded-For address that is
    not itself a trusted proxy (what the proxy saw; anything left of it the client could have
    written). Without the setting nothing changes. The proxy's own address stays in
    META["RETURNDESK_PROXY_ADDR"]."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        proxies = tuple(settings.RETURNDESK_TRUSTED_PROXIES)
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if proxies and forwarded:
            networks = _trusted(proxies)
            peer = request.META.get("REMOTE_ADDR", "")
            if _is_trusted(peer, networks):
                for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
                    if not _is_trusted(hop, networks):
                        try:
                            ipaddress.ip_address(hop)
                        except ValueError:
                            break
                        request.META["RETURNDESK_PROXY_ADDR"] = peer
                        request.META["REMOTE_ADDR"] = hop
                        break
        return self.get_response(request)
