"""Administration pages: merchant settings, staff and roles, API keys, and for the provider,
merchants and facilities. Each page checks one named permission; the services do the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

from django.contrib import messages
from django.contrib.auth.password_validation import password_validators_help_texts
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from returndesk.console.access import Seat
from returndesk.console.views.common import console_page, page_context
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.tenants import permissions as perm
from returndesk.tenants import selectors, services

View = Callable[..., HttpResponse]
TIMEZONES = sorted(available_timezones())


@dataclass
class Field:
    """One form input as the templates draw it: label, value, and its error in place."""

    name: str
    label: str
    value: str = ""
    type: str = "text"
    error: str = ""
    help: str = ""
    required: bool = False
    autocomplete: str = "off"
    choices: list[tuple[str, str]] = field(default_factory=list)


def fields_for(
    specs: Iterable[Field], values: Mapping[str, Any], errors: Mapping[str, str]
) -> list[Field]:
    out = []
    for spec in specs:
        spec.value = str(values.get(spec.name, spec.value) or "")
        spec.error = errors.get(spec.name, "")
        out.append(spec)
    return out


def problem_for(exc: ApplicationError) -> str:
    """The summary above a refused form: the field errors sit in place, so only point to them."""
    return _("Check the fields marked below.") if exc.errors else exc.detail


def field_errors(exc: ApplicationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors:
        errors[error.field] = (
            f"{errors[error.field]} {error.message}".strip()
            if (error.field in errors)
            else error.message
        )
    return errors


def form_status(exc: ApplicationError) -> int:
    """A refused form answers 422 (409 for a conflict), never 404: the page itself exists."""
    return 409 if exc.status == 409 else 422


def role_choices() -> list[tuple[str, str]]:
    return [(role, _(label)) for role, label in perm.MERCHANT_ROLE_CHOICES]


# --- merchant settings -----------------------------------------------------------------------


def settings_fields(values: Mapping[str, Any], errors: Mapping[str, str]) -> list[Field]:
    return fields_for(
        [
            Field("name", _("Name"), required=True, autocomplete="organization"),
            Field("support_email", _("Support e-mail"), type="email", autocomplete="email"),
            Field("support_phone", _("Support phone"), type="tel", autocomplete="tel"),
            Field(
                "locale",
                _("Locale"),
                help=_("How the portal writes dates and money, e.g. en or en_GB."),
            ),
            Field(
                "timezone",
                _("Time zone"),
                type="select",
                choices=[(tz, tz) for tz in TIMEZONES],
                help=_("Return windows end at midnight in this time zone."),
            ),
            Field("brand_color", _("Brand colour"), help=_("A colour like #1F6FEB.")),
        ],
        values,
        errors,
    )


@console_page(perm.MERCHANT_SETTINGS)
def merchant_settings(request: HttpRequest, seat: Seat) -> HttpResponse:
    merchant = seat.merchant
    values: dict[str, Any] = {
        "name": merchant.name,
        "support_email": merchant.support_email,
        "support_phone": merchant.support_phone,
        "locale": merchant.locale,
        "timezone": merchant.timezone,
        "brand_color": merchant.brand_color,
    }
    errors: dict[str, str] = {}
    problem = ""
    status = 200
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in values}
        logo = request.FILES.get("logo")
        try:
            services.merchant_update(
                actor=seat.actor,
                merchant=merchant,
                name=values["name"],
                support_email=values["support_email"],
                support_phone=values["support_phone"],
                locale=values["locale"],
                brand_color=values["brand_color"],
                timezone_name=values["timezone"],
                logo=logo.read() if logo else None,
                remove_logo=request.POST.get("remove_logo") == "on",
            )
        except ApplicationError as exc:
            errors, problem, status = field_errors(exc), problem_for(exc), form_status(exc)
        else:
            messages.success(request, _("Settings saved."))
            return HttpResponseRedirect(reverse("console:admin_settings", args=[merchant.slug]))
    return render(
        request,
        "console/admin/settings.html",
        page_context(
            seat,
            fields=settings_fields(values, errors),
            logo_error=errors.get("logo", ""),
            problem=problem,
        ),
        status=status,
    )


# --- users and roles -------------------------------------------------------------------------


def staff_fields(values: Mapping[str, Any], errors: Mapping[str, str]) -> list[Field]:
    return fields_for(
        [
            Field("email", _("E-mail"), type="email", required=True),
            Field("full_name", _("Full name")),
            Field("role", _("Role"), type="select", choices=role_choices(), value="agent"),
            Field(
                "password",
                _("Initial password"),
                type="password",
                autocomplete="new-password",
                help=" ".join(
                    [
                        _("For a new account only; leave empty for someone who has one."),
                        *password_validators_help_texts(),
                    ]
                ),
            ),
        ],
        values,
        errors,
    )


def _users_page(
    request: HttpRequest,
    seat: Seat,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    values = {k: v for k, v in (values or {}).items() if k != "password"}
    labels = {role: _(label) for role, label in perm.ROLE_CHOICES}
    return render(
        request,
        "console/admin/users.html",
        page_context(
            seat,
            staff=[
                (member, ", ".join(labels.get(role, role) for role in member.roles))
                for member in selectors.staff_list(merchant=seat.merchant)
            ],
            provider_staff=selectors.provider_staff_list(),
            roles=role_choices(),
            fields=staff_fields(values, errors or {}),
            problem=problem,
        ),
        status=status,
    )


@console_page(perm.USERS_MANAGE)
def users(request: HttpRequest, seat: Seat) -> HttpResponse:
    if request.method != "POST":
        return _users_page(request, seat)
    values = {k: request.POST.get(k, "") for k in ("email", "full_name", "role", "password")}
    try:
        user, created = services.staff_add(
            actor=seat.actor,
            merchant=seat.merchant,
            email=values["email"],
            role=values["role"],
            full_name=values["full_name"],
            password=values["password"],
        )
    except ApplicationError as exc:
        return _users_page(
            request,
            seat,
            values=values,
            errors=field_errors(exc),
            problem=problem_for(exc),
            status=form_status(exc),
        )
    if created:
        messages.success(
            request, _("Account %(email)s created with its role.") % {"email": user.email}
        )
    else:
        messages.success(request, _("%(email)s now has access here.") % {"email": user.email})
    return HttpResponseRedirect(reverse("console:admin_users", args=[seat.merchant.slug]))


@console_page(perm.USERS_MANAGE)
@require_POST
def user_role(request: HttpRequest, seat: Seat) -> HttpResponse:
    email = request.POST.get("email", "")
    try:
        services.staff_set_role(
            actor=seat.actor, merchant=seat.merchant, email=email, role=request.POST.get("role", "")
        )
    except NotFound:
        raise Http404 from None
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Role of %(email)s changed.") % {"email": email})
    return HttpResponseRedirect(reverse("console:admin_users", args=[seat.merchant.slug]))


@console_page(perm.USERS_MANAGE)
@require_POST
def user_remove(request: HttpRequest, seat: Seat) -> HttpResponse:
    email = request.POST.get("email", "")
    try:
        services.staff_remove(actor=seat.actor, merchant=seat.merchant, email=email)
    except NotFound:
        raise Http404 from None
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("%(email)s no longer has access here.") % {"email": email})
    return HttpResponseRedirect(reverse("console:admin_users", args=[seat.merchant.slug]))


# --- API keys --------------------------------------------------------------------------------


@console_page(perm.APIKEYS_MANAGE)
@sensitive_variables("raw_key")
def api_keys(request: HttpRequest, seat: Seat) -> HttpResponse:
    name = ""
    problem = ""
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            key, raw_key = services.apikey_create(
                actor=seat.actor, name=name, merchant=seat.merchant
            )
        except ApplicationError as exc:
            errors, problem, status = field_errors(exc), problem_for(exc), form_status(exc)
        else:
            # the one and only time the secret is shown: this answer must not be kept anywhere
            response = render(
                request,
                "console/admin/apikey_created.html",
                page_context(seat, key=key, raw_key=raw_key),
            )
            add_never_cache_headers(response)  # Cache-Control: no-store among others
            return response
    return render(
        request,
        "console/admin/apikeys.html",
        page_context(
            seat,
            keys=selectors.apikey_list(merchant=seat.merchant),
            fields=fields_for(
                [
                    Field(
                        "name",
                        _("Name"),
                        required=True,
                        help=_("What the key is for, e.g. Shop sync."),
                    )
                ],
                {"name": name},
                errors,
            ),
            problem=problem,
        ),
        status=status,
    )


@console_page(perm.APIKEYS_MANAGE)
@require_POST
def api_key_revoke(request: HttpRequest, seat: Seat, public_id: str) -> HttpResponse:
    try:
        key = selectors.apikey_get(merchant=seat.merchant, public_id=public_id)
    except NotFound:
        raise Http404 from None
    services.apikey_revoke(actor=seat.actor, key=key)
    messages.success(request, _("Key %(name)s revoked.") % {"name": key.name})
    return HttpResponseRedirect(reverse("console:admin_apikeys", args=[seat.merchant.slug]))


# --- provider: merchants and facilities ------------------------------------------------------


def merchant_fields(values: Mapping[str, Any], errors: Mapping[str, str]) -> list[Field]:
    return fields_for(
        [
            Field(
                "slug",
                _("Slug"),
                required=True,
                help=_("Lowercase letters, digits and hyphens; used in addresses."),
            ),
            Field("name", _("Name"), required=True),
            Field("currency", _("Currency"), required=True, help=_("ISO 4217 code, e.g. USD.")),
            Field(
                "timezone",
                _("Time zone"),
                type="select",
                choices=[(tz, tz) for tz in TIMEZONES],
                value="UTC",
            ),
            Field("support_email", _("Support e-mail"), type="email"),
        ],
        values,
        errors,
    )


@console_page(perm.PROVIDER_MERCHANTS)
def merchants(request: HttpRequest, seat: Seat) -> HttpResponse:
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    problem = ""
    status = 200
    if request.method == "POST":
        values = {
            k: request.POST.get(k, "")
            for k in ("slug", "name", "currency", "timezone", "support_email")
        }
        try:
            created = services.merchant_create(
                actor=seat.actor,
                slug=values["slug"].strip(),
                name=values["name"],
                currency=values["currency"].strip().upper(),
                timezone_name=values["timezone"],
                support_email=values["support_email"].strip(),
            )
        except ApplicationError as exc:
            errors, problem, status = field_errors(exc), problem_for(exc), form_status(exc)
            if exc.code == "already_exists":
                errors["slug"] = exc.detail
        else:
            messages.success(request, _("Merchant %(name)s created.") % {"name": created.name})
            return HttpResponseRedirect(
                reverse("console:provider_merchants", args=[seat.merchant.slug])
            )
    return render(
        request,
        "console/admin/merchants.html",
        page_context(
            seat,
            merchants=selectors.merchant_list(),
            fields=merchant_fields(values, errors),
            problem=problem,
        ),
        status=status,
    )


@console_page(perm.PROVIDER_MERCHANTS)
@require_POST
def merchant_active(request: HttpRequest, seat: Seat, merchant_slug: str) -> HttpResponse:
    try:
        target = selectors.merchant_get(merchant_slug)
    except NotFound:
        raise Http404 from None
    active = request.POST.get("active") == "1"
    services.merchant_set_active(actor=seat.actor, merchant=target, active=active)
    if active:
        messages.success(request, _("%(name)s is active again.") % {"name": target.name})
    else:
        messages.success(request, _("%(name)s is deactivated.") % {"name": target.name})
    if target.pk == seat.merchant.pk and not active:
        return HttpResponseRedirect(reverse("console:start"))  # this console just closed
    return HttpResponseRedirect(reverse("console:provider_merchants", args=[seat.merchant.slug]))


def facility_fields(values: Mapping[str, Any], errors: Mapping[str, str]) -> list[Field]:
    return fields_for(
        [
            Field("code", _("Code"), required=True, help=_("Up to 20 characters, e.g. NWK1.")),
            Field("name", _("Name"), required=True),
            Field("line1", _("Address"), required=True, autocomplete="address-line1"),
            Field("line2", _("Address, second line"), autocomplete="address-line2"),
            Field("city", _("City"), required=True, autocomplete="address-level2"),
            Field("region", _("Region"), autocomplete="address-level1"),
            Field("postal_code", _("Postal code"), required=True, autocomplete="postal-code"),
            Field("country", _("Country"), required=True, help=_("Two letters, e.g. US.")),
            Field(
                "timezone",
                _("Time zone"),
                type="select",
                choices=[(tz, tz) for tz in TIMEZONES],
                value="UTC",
            ),
        ],
        values,
        errors,
    )


FACILITY_KEYS = (
    "code",
    "name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "timezone",
)


@console_page(perm.PROVIDER_FACILITIES)
def facilities(request: HttpRequest, seat: Seat) -> HttpResponse:
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    served: list[str] = []
    problem = ""
    status = 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in FACILITY_KEYS}
        served = request.POST.getlist("merchants")
        try:
            facility = services.facility_create(
                actor=seat.actor,
                code=values["code"],
                name=values["name"],
                line1=values["line1"],
                line2=values["line2"],
                city=values["city"],
                region=values["region"],
                postal_code=values["postal_code"],
                country=values["country"].upper(),
                timezone_name=values["timezone"],
                merchant_slugs=served,
            )
        except ApplicationError as exc:
            errors, problem, status = field_errors(exc), problem_for(exc), form_status(exc)
            if exc.code == "already_exists":
                errors["code"] = exc.detail
        else:
            messages.success(request, _("Facility %(code)s created.") % {"code": facility.code})
            return HttpResponseRedirect(
                reverse("console:provider_facilities", args=[seat.merchant.slug])
            )
    all_merchants = list(selectors.merchant_list())
    return render(
        request,
        "console/admin/facilities.html",
        page_context(
            seat,
            facilities=selectors.facility_list(),
            fields=facility_fields(values, errors),
            all_merchants=all_merchants,
            served=set(served),
            merchants_error=errors.get("merchants", ""),
            problem=problem,
        ),
        status=status,
    )


urlpatterns = [
    path("m/<slug:slug>/admin/settings/", merchant_settings, name="admin_settings"),
    path("m/<slug:slug>/admin/users/", users, name="admin_users"),
    path("m/<slug:slug>/admin/users/role/", user_role, name="admin_user_role"),
    path("m/<slug:slug>/admin/users/remove/", user_remove, name="admin_user_remove"),
    path("m/<slug:slug>/admin/api-keys/", api_keys, name="admin_apikeys"),
    path(
        "m/<slug:slug>/admin/api-keys/<str:public_id>/revoke/",
        api_key_revoke,
        name="admin_apikey_revoke",
    ),
    path("m/<slug:slug>/provider/merchants/", merchants, name="provider_merchants"),
    path(
        "m/<slug:slug>/provider/merchants/<slug:merchant_slug>/active/",
        merchant_active,
        name="provider_merchant_active",
    ),
    path("m/<slug:slug>/provider/facilities/", facilities, name="provider_facilities"),
]
