"""Content-Security-Policy without inline scripts or styles on every page, and CSRF on every
form (QUALITY.md, security).

Every console and portal URL pattern is walked (the URL values come from the isolation test's
fixture, so a page added later is covered without touching this file): each answer carries the
policy, rendered HTML holds no script or style the policy would refuse, and a POST without the
CSRF token is refused. The templates are scanned too, for what a walk might not render."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, reverse
from django.utils.csp import CSP

from returndesk.console import urls as console_urls
from returndesk.portal import urls as portal_urls
from returndesk.portal.links import status_token
from returndesk.tenants.models import Merchant
from tests.console.test_console import pending, staff  # noqa: F401 - fixtures
from tests.console.test_isolation import arguments, values  # noqa: F401 - the URL values
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
SRC = Path(__file__).resolve().parents[2] / "src" / "returndesk"
PAGE_TEMPLATES = [SRC / "console" / "templates", SRC / "portal" / "templates"]

SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.I)
STYLE_TAG = re.compile(r"<style\b[^>]*>", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I)
EVENT_ATTRIBUTE = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
POST_FORM = re.compile(r"<form\b[^>]*method=[\"']?post[^>]*>(.*?)</form>", re.I | re.S)


def url_patterns() -> list[tuple[str, URLPattern]]:
    found = [("console", p) for p in console_urls.urlpatterns]
    found += [("portal", p) for p in portal_urls.urlpatterns]
    return [(ns, p) for ns, p in found if isinstance(p, URLPattern)]


def urls(given: dict[str, Any], merchant: Merchant) -> list[str]:
    known = {**given, "token": status_token(merchant, given["ran"].replace("-", ""))}
    return [
        reverse(f"{ns}:{p.name}", kwargs=arguments(p, known) if p.pattern.converters else None)
        for ns, p in url_patterns()
    ]


def policy_problems(header: str) -> list[str]:
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in header.split(";") if part.strip()
    )
    problems = []
    for name in ("script-src", "style-src"):
        sources = directives.get(name) or directives.get("default-src") or []
        if "'unsafe-inline'" in sources or "'unsafe-eval'" in sources:
            problems.append(f"{name} allows {sources}")
    if directives.get("object-src") != ["'none'"]:
        problems.append("object-src is not 'none'")
    return problems


def html_problems(html: str) -> list[str]:
    """What the policy (scripts and styles by nonce or from 'self') would refuse."""
    problems = [t for t in SCRIPT_TAG.findall(html) if "src=" not in t and "nonce=" not in t]
    problems += [t for t in STYLE_TAG.findall(html) if "nonce=" not in t]
    problems += STYLE_ATTRIBUTE.findall(html) + EVENT_ATTRIBUTE.findall(html)
    if "javascript:" in html.lower():
        problems.append("a javascript: URL")
    return problems


def test_the_policy_allows_no_inline_script_or_style() -> None:
    policy = settings.SECURE_CSP
    for directive in ("script-src", "style-src"):
        assert CSP.UNSAFE_INLINE not in policy[directive]
        assert CSP.UNSAFE_EVAL not in policy[directive]
        assert set(policy[directive]) <= {CSP.SELF, CSP.NONCE}
    assert policy["object-src"] == [CSP.NONE] and policy["frame-ancestors"] == [CSP.NONE]


def test_every_console_and_portal_page_has_the_policy_and_obeys_it(
    merchant: Merchant,
    values: dict[str, Any],  # noqa: F811
) -> None:
    admin = Client()
    admin.force_login(staff("admin@acme.example", "provider_admin", None))
    pages = 0
    failures: list[str] = []
    for url in urls(values, merchant):
        response = admin.get(url)
        header = response.get("Content-Security-Policy", "")
        if not header:
            failures.append(f"{url} ({response.status_code}): no Content-Security-Policy")
            continue
        failures += [f"{url}: {p}" for p in policy_problems(header)]
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            pages += 1
            failures += [f"{url}: {p}" for p in html_problems(response.content.decode())]
    assert not failures, "\n".join(failures)
    assert pages >= 40, pages  # the walk reaches real pages, not just redirects


def test_every_console_and_portal_post_needs_the_csrf_token(
    merchant: Merchant,
    values: dict[str, Any],  # noqa: F811
) -> None:
    signed = Client(enforce_csrf_checks=True)
    signed.force_login(staff("admin@acme.example", "provider_admin", None))
    accepted = [
        f"{url} ({answer.status_code})"
        for url in urls(values, merchant)
        if (answer := signed.post(url, {"reason": "x", "email": "a@b.example"})).status_code != 403
        or b"CSRF" not in answer.content
    ]
    assert not accepted, "answered a POST without a CSRF token: " + ", ".join(accepted)


def test_page_templates_hold_no_inline_script_style_or_handler_and_forms_carry_csrf() -> None:
    """E-mail templates are left out: mail clients need inline styles and run no scripts."""
    failures = []
    templates = [p for root in PAGE_TEMPLATES for p in root.rglob("*.html")]
    assert len(templates) > 50
    for path in templates:
        text = path.read_text()
        name = path.relative_to(SRC)
        failures += [f"{name}: {p}" for p in html_problems(text)]
        failures += [
            f"{name}: a POST form without {{% csrf_token %}}"
            for body in POST_FORM.findall(text)
            if "{% csrf_token %}" not in body
        ]
    assert not failures, "\n".join(failures)
