"""What every console page shares: sign-in, the merchant chooser and the page context."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from returndesk.console.access import ADMINISTRATION, NAVIGATION, Seat, merchants_of, seat_for
from returndesk.core.models import Upload
from returndesk.core.ratelimit import Limit, rate_limit_hit
from returndesk.tenants.selectors import user_permissions

View = Callable[..., HttpResponse]


def console_page(
    permission: str, *, methods: tuple[str, ...] = ("GET", "POST")
) -> Callable[[View], View]:
    """Every console page: sign-in, then the seat at the merchant (another merchant's URL is a
    404, exactly like an unknown merchant, whatever the method), then the method, then the
    permission. Without the permission a GET shows a page saying so and any other method is
    refused, both 403. The view is called as view(request, seat, **url_kwargs)."""
    allowed = (*methods, "HEAD") if "GET" in methods else methods

    def decorate(view: View) -> View:
        @login_required(login_url="console:login")
        @functools.wraps(view)
        def wrapped(request: HttpRequest, slug: str, **kwargs: Any) -> HttpResponse:
            seat = seat_for(request, slug)
            if request.method not in allowed:
                return HttpResponseNotAllowed(allowed)
            if not seat.can(permission):
                if request.method not in {"GET", "HEAD"}:
                    raise PermissionDenied
                return render(request, "console/forbidden.html", page_context(seat), status=403)
            return view(request, seat, **kwargs)

        return wrapped

    return decorate


def photo_response(photo: Upload) -> HttpResponse:
    """An uploaded photo for a console page, once the view has found it for this seat. It was
    re-encoded by the upload check, so it is an image and nothing else; private to the
    signed-in browser."""
    with photo.file.open("rb") as stored:
        response = HttpResponse(stored.read(), content_type=photo.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# Password guessing is slow whoever guesses: sign-in attempts are counted per client address and
# per account, every attempt; a whole office may share one address (docs/security.md).
LOGIN_PER_CLIENT = Limit("console-login-client", limit=100, window=timedelta(minutes=10))
LOGIN_PER_ACCOUNT = Limit("console-login-account", limit=10, window=timedelta(minutes=10))


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        account = request.POST.get("username", "").strip().lower()
        verdicts = [
            rate_limit_hit(rule=LOGIN_PER_CLIENT, key=request.META.get("REMOTE_ADDR", "")),
            rate_limit_hit(rule=LOGIN_PER_ACCOUNT, key=account),
        ]
        refused = [v for v in verdicts if not v.allowed]
        if not refused:
            return super().post(request, *args, **kwargs)
        context = self.get_context_data(form=self.get_form(), too_many=True)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(max(v.retry_after for v in refused))
        return response


@login_required(login_url="console:login")
def start(request: HttpRequest) -> HttpResponse:
    merchants = merchants_of(request.user)  # type: ignore[arg-type]
    if not merchants:
        return render(request, "console/no_access.html", status=403)
    wanted = request.GET.get("m", "")
    chosen = next((m for m in merchants if m.slug == wanted), merchants[0])
    # switching merchants keeps the user in the same area (a list page of the navigation) when
    # their role there allows it; a page about one merchant's object falls back to home
    area = f"console:{request.GET.get('to', '')}"
    allowed = user_permissions(request.user, chosen)  # type: ignore[arg-type]
    pages = [name for name, _, needed in NAVIGATION if needed in allowed]
    if area in pages:
        return HttpResponseRedirect(reverse(area, args=[chosen.slug]))
    # home when the role has it, else the first page it does have (a warehouse worker lands
    # on receiving, not on a page that refuses them)
    if not pages:
        return render(request, "console/no_access.html", status=403)
    return HttpResponseRedirect(reverse(pages[0], args=[chosen.slug]))


def page_context(seat: Seat, **extra: Any) -> dict[str, Any]:
    """Every console page's context: the seat, and the navigation its role may use, split into
    the daily work and the administration pages (those fold into one menu)."""
    allowed = [(name, label) for name, label, needed in NAVIGATION if seat.can(needed)]
    nav = [(name, label) for name, label in allowed if name not in ADMINISTRATION]
    admin_nav = [(name, label) for name, label in allowed if name in ADMINISTRATION]
    return {"seat": seat, "merchant": seat.merchant, "nav": nav, "admin_nav": admin_nav, **extra}


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("", start, name="start"),
]
