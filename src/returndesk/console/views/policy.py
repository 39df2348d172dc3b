"""The policy editor: edit the common fields in a form and the rest as JSON, preview the
difference and the simulation over past returns, then publish as a second, explicit step.

The draft travels from the preview to the publish form in a hidden field, with a signature over
the draft, the version it was compared with, the merchant and the user. Publishing checks the
signature: a draft edited after its preview, or previewed against a version that is no longer
current, is validated and simulated again and shown, never published blindly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from returndesk.console.access import Seat
from returndesk.console.views.common import console_page, page_context
from returndesk.core.errors import NotFound, ValidationFailed
from returndesk.core.money import Money, MoneyError
from returndesk.core.tenancy import merchant_scope
from returndesk.policies import selectors
from returndesk.policies.diff import (
    MISSING,
    Kind,
    LabelledField,
    document_changes,
    readable_changes,
    unified_json_diff,
    value_at,
)
from returndesk.policies.models import PolicyVersion
from returndesk.policies.services import policy_parse, policy_publish
from returndesk.returns.simulation import policy_simulate
from returndesk.tenants import permissions as perm

PREVIEW_SALT = "returndesk.console.policy.preview"
PREVIEW_MAX_AGE = 60 * 60  # seconds a preview may be published after
VERSIONS_SHOWN = 200


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class PolicyForm(forms.Form):
    """The fields a merchant admin changes most; every other field is in `document` (JSON)."""

    window_days = forms.IntegerField(
        label=gettext_lazy("Return window (days)"),
        help_text=gettext_lazy(
            "Counted from delivery, or from the order date when no delivery time is known."
        ),
    )
    non_returnable_categories = forms.CharField(
        label=gettext_lazy("Categories never returnable"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "One category per line. Products marked final sale or not returnable are never "
            "returnable, whatever this says."
        ),
    )
    non_returnable_skus = forms.CharField(
        label=gettext_lazy("SKUs never returnable"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("One SKU per line."),
    )
    proof_of_purchase = forms.ChoiceField(
        label=gettext_lazy("Proof of purchase"),
        choices=[
            ("order", gettext_lazy("The order must be in the system")),
            ("order_or_receipt", gettext_lazy("The order, or an uploaded receipt (reviewed)")),
        ],
    )
    refund = forms.BooleanField(label=gettext_lazy("Refund"), required=False)
    store_credit = forms.BooleanField(label=gettext_lazy("Store credit"), required=False)
    exchange = forms.BooleanField(label=gettext_lazy("Exchange"), required=False)
    instant_exchange = forms.BooleanField(
        label=gettext_lazy("Instant exchange"),
        required=False,
        help_text=gettext_lazy(
            "Release the replacement before the return arrives (never for high-risk returns)."
        ),
    )
    store_credit_bonus_percent = forms.DecimalField(label=gettext_lazy("Store credit bonus (%)"))
    restocking_percent = forms.DecimalField(
        label=gettext_lazy("Restocking fee (% of the item's value)"),
        help_text=gettext_lazy("Per reason and per category rates are in the full document."),
    )
    return_shipping_fee = forms.DecimalField(
        label=gettext_lazy("Return shipping fee"),
        help_text=gettext_lazy("Charged once per return when the customer pays shipping."),
    )
    refund_timing = forms.ChoiceField(
        label=gettext_lazy("Refund is due on"),
        choices=[
            ("authorization", gettext_lazy("Authorization (trusted customers)")),
            ("first_scan", gettext_lazy("First carrier scan (trusted customers)")),
            ("delivery", gettext_lazy("Delivery to the facility")),
            ("receipt", gettext_lazy("Receipt at the facility")),
            ("inspection", gettext_lazy("Inspection")),
        ],
    )
    max_order_value = forms.DecimalField(
        label=gettext_lazy("Review orders above"),
        required=False,
        help_text=gettext_lazy("Empty: no limit."),
    )
    max_recent_returns = forms.IntegerField(
        label=gettext_lazy("Review customers with at least this many recent returns"),
        required=False,
        help_text=gettext_lazy("Empty: no limit."),
    )
    recent_days = forms.IntegerField(label=gettext_lazy("Recent means within (days)"))
    max_risk_score = forms.DecimalField(
        label=gettext_lazy("Review risk scores above"),
        required=False,
        help_text=gettext_lazy("0 to 100. Empty: no limit."),
    )
    high_risk_threshold = forms.DecimalField(
        label=gettext_lazy("High risk above"),
        help_text=gettext_lazy(
            "0 to 100. Above it, the refund waits for inspection whatever the timing says."
        ),
    )
    days_to_ship = forms.IntegerField(
        label=gettext_lazy("Days to ship"),
        help_text=gettext_lazy("An authorization expires when nothing was shipped by then."),
    )
    document = forms.CharField(
        label=gettext_lazy("Everything else (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "json"}),
        help_text=gettext_lazy(
            "The rest of the policy document: reasons, per-category and per-SKU windows, "
            "seasonal extensions, statutory minimums, grades, risk weights. The fields above "
            "are set in the form, not here."
        ),
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        for name in ("return_shipping_fee", "max_order_value"):
            self.fields[name].label = f"{self.fields[name].label} ({currency})"
        self.document_errors: list[tuple[str, str]] = []  # (JSON path, message)
        self.resolution_errors: list[str] = []  # on the resolutions as a whole

    def _minor_units(self, name: str) -> int | None:
        value = self.cleaned_data[name]
        if value is None:
            return None
        try:
            return Money.from_decimal(value, self.currency).amount
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_return_shipping_fee(self) -> int | None:
        return self._minor_units("return_shipping_fee")

    def clean_max_order_value(self) -> int | None:
        return self._minor_units("max_order_value")


# form field -> the document path it edits, and how the preview words its changes
FIELDS: tuple[tuple[str, str, Kind], ...] = (
    ("window_days", "window_days", "days"),
    ("non_returnable_categories", "non_returnable_categories", "list"),
    ("non_returnable_skus", "non_returnable_skus", "list"),
    ("proof_of_purchase", "proof_of_purchase", "choice"),
    ("refund", "resolutions.refund", "flag"),
    ("store_credit", "resolutions.store_credit", "flag"),
    ("exchange", "resolutions.exchange", "flag"),
    ("instant_exchange", "resolutions.instant_exchange", "flag"),
    ("store_credit_bonus_percent", "resolutions.store_credit_bonus_percent", "percent"),
    ("restocking_percent", "fees.restocking_percent", "percent"),
    ("return_shipping_fee", "fees.return_shipping_fee", "money"),
    ("refund_timing", "refund_timing", "choice"),
    ("max_order_value", "auto_approval.max_order_value", "money"),
    ("max_recent_returns", "auto_approval.max_recent_returns", "count"),
    ("recent_days", "auto_approval.recent_days", "days"),
    ("max_risk_score", "auto_approval.max_risk_score", "count"),
    ("high_risk_threshold", "high_risk_threshold", "count"),
    ("days_to_ship", "days_to_ship", "days"),
)
FIELD_OF_PATH = {doc_path: name for name, doc_path, _kind in FIELDS}
MONEY_FIELDS = {"return_shipping_fee", "max_order_value"}
LIST_FIELDS = {"non_returnable_categories", "non_returnable_skus"}


def labelled_fields(currency: str) -> list[LabelledField]:
    form = PolicyForm(currency=currency)
    return [
        LabelledField(doc_path, str(form.fields[name].label), kind)
        for name, doc_path, kind in FIELDS
    ]


# ---------------------------------------------------------------- document <-> form


def _set(document: dict[str, Any], doc_path: str, value: Any) -> None:
    *parents, last = doc_path.split(".")
    target = document
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[last] = value


def _remove(document: dict[str, Any], doc_path: str) -> None:
    *parents, last = doc_path.split(".")
    chain = [document]
    for part in parents:
        child = chain[-1].get(part)
        if not isinstance(child, dict):
            return
        chain.append(child)
    chain[-1].pop(last, None)
    for parent, part in zip(reversed(chain[:-1]), reversed(parents), strict=True):
        if parent[part] == {}:  # an object the form now holds whole
            del parent[part]


def _the_rest(document: dict[str, Any]) -> dict[str, Any]:
    rest = json.loads(json.dumps(document))
    for _name, doc_path, _kind in FIELDS:
        _remove(rest, doc_path)
    return rest


def form_initial(document: dict[str, Any], currency: str) -> dict[str, Any]:
    """What the form shows for a (valid, JSON) policy document."""
    initial: dict[str, Any] = {}
    for name, doc_path, _kind in FIELDS:
        value = value_at(document, doc_path)
        if value is MISSING or value is None:
            continue
        if name in MONEY_FIELDS:
            value = Money(int(value), currency).to_decimal()
        elif name in LIST_FIELDS:
            value = "\n".join(value)
        initial[name] = value
    initial["document"] = json.dumps(_the_rest(document), indent=2, ensure_ascii=False)
    return initial


def draft_from_form(form: PolicyForm) -> dict[str, Any] | None:
    """The whole document the form describes, or None with the errors put in place."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    text = data["document"].strip() or "{}"
    try:
        rest = json.loads(text)
    except json.JSONDecodeError as exc:
        form.add_error(
            "document",
            _("This is not valid JSON: %(problem)s (line %(line)s, column %(column)s).")
            % {"problem": exc.msg, "line": exc.lineno, "column": exc.colno},
        )
        return None
    if not isinstance(rest, dict):
        form.add_error("document", _("The document must be a JSON object: { ... }."))
        return None
    draft = json.loads(json.dumps(rest))
    twice = [doc_path for _n, doc_path, _k in FIELDS if value_at(rest, doc_path) is not MISSING]
    for doc_path in twice:
        form.document_errors.append((doc_path, _("Set this in the form above, not here.")))
    for name, doc_path, _kind in FIELDS:
        value = data[name]  # money is in minor units already (see PolicyForm)
        if name in LIST_FIELDS:
            value = _lines(value)
        _set(draft, doc_path, value)
    if twice:
        return None
    try:
        parsed = policy_parse(draft)
    except ValidationFailed as exc:
        for error in exc.errors:
            place = _place(error.field)
            if place in form.fields:
                form.add_error(place, error.message)
            elif place == "resolutions":
                form.resolution_errors.append(error.message)
            else:
                form.document_errors.append((error.field, error.message))
        return None
    return parsed.model_dump(mode="json")


def _place(error_path: str) -> str:
    """The form field an error at a document path belongs to ("non_returnable_skus[2]" ->
    the SKU list), else the path itself."""
    plain = error_path.split("[", 1)[0]
    return FIELD_OF_PATH.get(plain, plain)


# ---------------------------------------------------------------- preview and signature


def _fingerprint(draft: dict[str, Any], base_version: int, seat: Seat) -> str:
    canonical = json.dumps(draft, sort_keys=True, separators=(",", ":"))
    material = f"{seat.merchant.pk}:{seat.user.pk}:{base_version}:{canonical}"
    return hashlib.sha256(material.encode()).hexdigest()


def _sign(draft: dict[str, Any], base_version: int, seat: Seat) -> str:
    return signing.TimestampSigner(salt=PREVIEW_SALT).sign(_fingerprint(draft, base_version, seat))


def _previewed(token: str, draft: dict[str, Any], base_version: int, seat: Seat) -> bool:
    """Whether this exact draft was previewed by this user against this version, lately."""
    try:
        seen = signing.TimestampSigner(salt=PREVIEW_SALT).unsign(token, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature:
        return False
    return seen == _fingerprint(draft, base_version, seat)


SIMULATION_ROWS = (
    ("authorized", gettext_lazy("Approved"), "count"),
    ("pending_review", gettext_lazy("Sent to review"), "count"),
    ("rejected", gettext_lazy("Rejected"), "count"),
    ("invalid", gettext_lazy("Refused (resolution not offered)"), "count"),
    ("eligible_lines", gettext_lazy("Eligible lines"), "count"),
    ("ineligible_lines", gettext_lazy("Ineligible lines"), "count"),
    ("fees", gettext_lazy("Fees"), "money"),
    ("refunds", gettext_lazy("Refunds"), "money"),
)


def _simulation_rows(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key, label, kind in SIMULATION_ROWS:
        before, after = report["current"][key], report["draft"][key]
        yield {
            "label": label,
            "money": kind == "money",
            "before": before,
            "after": after,
            "difference": after - before,
            "changed": before != after,
        }


def _diff_lines(diff: str) -> list[tuple[str, str]]:
    """Each line of a unified diff with the class that colours it."""
    marks = {"+": "add", "-": "del", "@": "hunk"}
    return [
        ("head" if line.startswith(("+++", "---")) else marks.get(line[:1], ""), line)
        for line in diff.splitlines()
    ]


def _money_words(currency: str) -> Any:
    return lambda amount: Money(amount, currency).format("en")


def _preview(seat: Seat, current: PolicyVersion, draft: dict[str, Any]) -> dict[str, Any]:
    """The difference from the current version and the simulation over past returns."""
    before = current.document
    currency = seat.merchant.currency
    readable = readable_changes(
        before, draft, labelled_fields(currency), money=_money_words(currency)
    )
    worded = {change.path for change in readable}
    others = [c.path for c in document_changes(before, draft) if c.path not in worded]
    report = policy_simulate(merchant=seat.merchant, draft_document=draft)
    return {
        "current_version": current.version,
        "next_version": current.version + 1,
        "readable": readable,
        "other_paths": others,
        "diff_lines": _diff_lines(
            unified_json_diff(before, draft, before_name=f"v{current.version}", after_name="draft")
        ),
        "unchanged": not readable and not others,
        "simulation": report,
        "simulation_rows": list(_simulation_rows(report)),
        "draft_json": json.dumps(draft, separators=(",", ":")),
        "token": _sign(draft, current.version, seat),
    }


# ---------------------------------------------------------------- views


def _render_editor(
    request: HttpRequest,
    seat: Seat,
    form: PolicyForm,
    current: PolicyVersion,
    preview: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "console/policy_edit.html",
        page_context(seat, form=form, current=current, preview=preview),
        status=status,
    )


@console_page(perm.POLICY_MANAGE)
def policy_edit(request: HttpRequest, seat: Seat) -> HttpResponse:
    """GET: the form with the current policy. POST: validate the draft and preview it."""
    currency = seat.merchant.currency
    with merchant_scope(seat.merchant):
        current = selectors.policy_current(merchant=seat.merchant)
        if request.method == "GET":
            form = PolicyForm(initial=form_initial(current.document, currency), currency=currency)
            return _render_editor(request, seat, form, current)
        form = PolicyForm(request.POST, currency=currency)
        draft = draft_from_form(form)
        if draft is None:
            return _render_editor(request, seat, form, current, status=422)
        return _render_editor(request, seat, form, current, _preview(seat, current, draft))


@console_page(perm.POLICY_MANAGE, methods=("POST",))
def policy_publish_view(request: HttpRequest, seat: Seat) -> HttpResponse:
    """Publish the previewed draft; anything else is previewed again, not published."""
    currency = seat.merchant.currency
    with merchant_scope(seat.merchant):
        current = selectors.policy_current(merchant=seat.merchant)
        try:
            submitted = json.loads(request.POST.get("draft", ""))
            draft = policy_parse(submitted).model_dump(mode="json")
        except (json.JSONDecodeError, ValidationFailed):
            messages.error(request, _("The draft to publish is not a valid policy; edit it again."))
            return HttpResponseRedirect(reverse("console:policy", args=[seat.merchant.slug]))
        if not _previewed(request.POST.get("token", ""), draft, current.version, seat):
            messages.error(
                request,
                _(
                    "Nothing was published: the draft or the current policy changed since the "
                    "preview. Check the difference and the simulation below, then publish again."
                ),
            )
            form = PolicyForm(initial=form_initial(draft, currency), currency=currency)
            preview = _preview(seat, current, draft)
            return _render_editor(request, seat, form, current, preview, status=409)
        try:
            published = policy_publish(
                actor=seat.actor,
                merchant=seat.merchant,
                document=draft,
                note=request.POST.get("note", "").strip()[:500],
            )
        except ValidationFailed as exc:  # pragma: no cover - parsed above
            messages.error(request, exc.detail)
            return HttpResponseRedirect(reverse("console:policy", args=[seat.merchant.slug]))
    messages.success(
        request, _("Version %(version)s is published.") % {"version": published.version}
    )
    return HttpResponseRedirect(
        reverse("console:policy_version", args=[seat.merchant.slug, published.version])
    )


@console_page(perm.POLICY_MANAGE, methods=("GET",))
def policy_versions(request: HttpRequest, seat: Seat) -> HttpResponse:
    with merchant_scope(seat.merchant):
        versions = list(selectors.policy_versions(merchant=seat.merchant)[:VERSIONS_SHOWN])
    return render(request, "console/policy_versions.html", page_context(seat, versions=versions))


@console_page(perm.POLICY_MANAGE, methods=("GET",))
def policy_version(request: HttpRequest, seat: Seat, version: int) -> HttpResponse:
    currency = seat.merchant.currency
    with merchant_scope(seat.merchant):
        current = selectors.policy_current(merchant=seat.merchant)  # makes version 1
        try:
            shown = selectors.policy_version_get(merchant=seat.merchant, version=version)
            previous = (
                selectors.policy_version_get(merchant=seat.merchant, version=version - 1)
                if version > 1
                else None
            )
        except NotFound:
            raise Http404 from None
    changes: dict[str, Any] = {}
    if previous is not None:
        readable = readable_changes(
            previous.document,
            shown.document,
            labelled_fields(currency),
            money=_money_words(currency),
        )
        worded = {change.path for change in readable}
        changes = {
            "readable": readable,
            "other_paths": [
                c.path
                for c in document_changes(previous.document, shown.document)
                if c.path not in worded
            ],
            "diff_lines": _diff_lines(
                unified_json_diff(
                    previous.document,
                    shown.document,
                    before_name=f"v{previous.version}",
                    after_name=f"v{shown.version}",
                )
            ),
        }
    return render(
        request,
        "console/policy_version.html",
        page_context(
            seat,
            shown=shown,
            previous=previous,
            is_current=shown.version == current.version,
            changes=changes,
            document_json=json.dumps(shown.document, indent=2, ensure_ascii=False),
        ),
    )


urlpatterns = [
    path("m/<slug:slug>/policy/", policy_edit, name="policy"),
    path("m/<slug:slug>/policy/publish/", policy_publish_view, name="policy_publish"),
    path("m/<slug:slug>/policy/versions/", policy_versions, name="policy_versions"),
    path("m/<slug:slug>/policy/versions/<int:version>/", policy_version, name="policy_version"),
]
