"""What every console page shares: sign-in, the merchant chooser and the page context."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from returndesk.console.access import NAVIGATION, Seat, merchants_of
from returndesk.tenants.selectors import user_permissions


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True


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
    if any(name == area and needed in allowed for name, _, needed in NAVIGATION):
        return HttpResponseRedirect(reverse(area, args=[chosen.slug]))
    return HttpResponseRedirect(reverse("console:home", args=[chosen.slug]))


def page_context(seat: Seat, **extra: Any) -> dict[str, Any]:
    nav = [(name, label) for name, label, needed in NAVIGATION if seat.can(needed)]
    return {"seat": seat, "merchant": seat.merchant, "nav": nav, **extra}


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("", start, name="start"),
]
