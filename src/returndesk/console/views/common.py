"""What every console page shares: sign-in, the merchant chooser and the page context."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from returndesk.console.access import NAVIGATION, Seat, merchants_of


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
    return HttpResponseRedirect(reverse("console:home", args=[chosen.slug]))


def page_context(seat: Seat, **extra: Any) -> dict[str, Any]:
    nav = [(name, label) for name, label, needed in NAVIGATION if seat.can(needed)]
    return {"seat": seat, "merchant": seat.merchant, "nav": nav, **extra}


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("", start, name="start"),
]
