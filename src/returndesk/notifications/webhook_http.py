"""One webhook POST over HTTP: which URLs a merchant may point us at, and a request that ends
within its deadline whatever the receiver does.

Python's own `http.client` (no new dependency; docs/decisions/0013-merchant-webhooks.md): it
follows no redirects and reads no proxy settings, and it lets us connect to the address we
checked. Socket timeouts alone bound each read, not the exchange (a receiver can trickle a byte
every few seconds), so a watchdog shuts the socket down when the deadline passes.

Who may be called (`url_problem`, `address_allowed`):
- production: `https` only, to addresses that are public; every address a name resolves to is
  checked at each delivery, and the connection goes to the address checked (no rebinding);
- outside production (`RETURNDESK_WEBHOOKS_ALLOW_LOOPBACK`, the demo and tests): loopback is
  allowed too, over `http` or `https`. Private, link-local and other special ranges never are.
Credentials in the URL are refused: the signature is the authentication.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

EXCERPT_CHARS = 500
READ_BYTES = 4096  # enough for the excerpt; the rest of an answer is never read
USER_AGENT = "ReturnDesk-Webhooks/1.0"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True)
class Answer:
    """What one attempt got: a status code, or an error saying why there is none."""

    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_loopback_host(host: str) -> bool:
    ip = _ip(host)
    return ip.is_loopback if ip is not None else host.lower().rstrip(".") in LOOPBACK_NAMES


def address_allowed(address: str, *, allow_loopback: bool) -> bool:
    ip = _ip(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def url_problem(url: str, *, allow_loopback: bool) -> str | None:
    """Why this URL may not receive webhooks, or None when it may (checked when it is saved
    and again before each delivery)."""
    if len(url) > 1000:
        return "is longer than 1000 characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a URL"
    host = parts.hostname or ""
    if parts.scheme not in {"https", "http"} or not host:
        return "must be an https:// URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    if port == 0:
        return "has no usable port"
    if any(c.isspace() for c in url):
        return "must not contain spaces"
    loopback = _is_loopback_host(host)
    if loopback and not allow_loopback:
        return "must be a public address, not this machine"
    if parts.scheme == "http" and not loopback:
        return "must use https"
    ip = _ip(host)
    if ip is not None and not loopback and not address_allowed(host, allow_loopback=False):
        return "must be a public address"
    return None


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked; Host stays the URL's name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_PinnedHTTP):
    default_port = http.client.HTTPS_PORT

    def __init__(
        self, host: str, port: int, *, address: str, timeout: float, tls: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, address=address, timeout=timeout)
        self.tls = tls

    def connect(self) -> None:
        super().connect()
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host)


_TLS = ssl.create_default_context()


def _resolve(host: str, port: int) -> list[str]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in found:
        if sockaddr[0] not in addresses:
            addresses.append(str(sockaddr[0]))
    return addresses


def _text(received: str) -> str:
    """What a receiver sent, as text a database column takes (PostgreSQL refuses NUL)."""
    return received.replace("\x00", "\ufffd")


def _describe(exc: BaseException, timed_out: bool, timeout: float) -> str:
    if timed_out or isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc}"
    if isinstance(exc, socket.gaierror):
        return f"the host name does not resolve ({exc.strerror})"
    if isinstance(exc, http.client.HTTPException):
        return f"not an HTTP answer ({type(exc).__name__}: {exc})"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow_loopback: bool,
) -> Answer:
    """POST `body` to `url` and answer what came back, within `timeout` seconds in all (name
    resolution aside). Never raises for anything the receiver does."""
    started = time.monotonic()

    def answer(status: int | None, excerpt: str = "", error: str = "") -> Answer:
        duration = int((time.monotonic() - started) * 1000)
        return Answer(status, _text(excerpt)[:EXCERPT_CHARS], _text(error), duration)

    problem = url_problem(url, allow_loopback=allow_loopback)
    if problem:
        return answer(None, error=f"the URL {problem}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    try:
        addresses = _resolve(host, port)
    except OSError as exc:
        return answer(None, error=_describe(exc, False, timeout))
    refused = [a for a in addresses if not address_allowed(a, allow_loopback=allow_loopback)]
    if refused or not addresses:
        return answer(None, error=f"{host} resolves to an address that is not allowed")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    timed_out = threading.Event()
    connection: _PinnedHTTP = (
        _PinnedHTTPS(host, port, address=addresses[0], timeout=timeout, tls=_TLS)
        if tls
        else _PinnedHTTP(host, port, address=addresses[0], timeout=timeout)
    )

    def cut() -> None:
        timed_out.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target, body=body, headers=sent_headers)
        response = connection.getresponse()
        status = response.status
        try:
            excerpt = response.read(READ_BYTES).decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException):
            # the status line is the answer; a broken or endless body does not change it
            excerpt = ""
        return answer(status, excerpt)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return answer(None, error=_describe(exc, timed_out.is_set(), timeout))
    finally:
        watchdog.cancel()
        connection.close()
