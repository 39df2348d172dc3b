"""Writing a shopper e-mail: the words for each event, the merchant's branding, an HTML and a
plain-text part, and the label attached to the approval.

Every word goes through gettext; the caller holds `translation.override(merchant.locale)`.
Figures and dates are written as the portal writes them (core/localize.py). What the outbox row
does not carry (the items, the label, the status link) comes from the apps above through
`email_hooks`. A gift's recipient is never told the buyer's name: no e-mail greets anyone by
name, and the return's facts give the recipient's own address.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import MIMEPart
from email.utils import make_msgid, parseaddr
from typing import Any

import segno
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from returndesk.core.codes import format_ran
from returndesk.core.colours import readable_on
from returndesk.core.localize import day_text, money_text
from returndesk.notifications.email_hooks import (
    EmailItem,
    Enclosure,
    ReturnFacts,
    ran_of,
    return_enclosure,
    status_link,
)
from returndesk.notifications.models import EmailDelivery, OutboxMessage
from returndesk.tenants.models import Merchant, Provider

# The approval e-mail carries the label, which the portal issues just after the approval in a
# transaction of its own: wait this long for it before sending without (the status page offers
# it). Waiting is not an attempt.
LABEL_WAIT = timedelta(minutes=10)

DEDUCTION_TEXT = {
    "restocking_fee": gettext_lazy("Restocking fee"),
    "grade": gettext_lazy("Condition found when checked"),
    "missing_accessory": gettext_lazy("Missing accessories"),
    "return_shipping_fee": gettext_lazy("Return shipping"),
}
METHOD_TEXT = {
    "card": gettext_lazy("your card"),
    "paypal": gettext_lazy("your PayPal account"),
    "gift_card": gettext_lazy("your gift card"),
}


@dataclass(frozen=True)
class Row:
    """One line of the figures: an item, a deduction from it, or a total."""

    label: str
    amount: str
    kind: str = "item"  # item | less | add | total
    quantity: int = 0  # an item's units


@dataclass
class Content:
    subject: str
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    items_title: str = ""
    items: list[EmailItem] = field(default_factory=list)
    items_note: str = ""  # below the items: the condition they must be in
    rows_title: str = ""
    rows: list[Row] = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # paragraphs below the figures
    code: str = ""  # a drop-off code, shown large with its QR code
    code_note: str = ""
    qr: bytes = b""  # PNG
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Facts:
    """What one e-mail is written from."""

    merchant: Merchant
    event_type: str
    data: dict[str, Any]
    ret: ReturnFacts | None
    at: datetime  # when the event happened

    def money(self, value: dict[str, Any] | None) -> str:
        value = value or {}
        return money_text(
            int(value.get("amount") or 0),
            str(value.get("currency") or self.merchant.currency),
            locale=self.merchant.locale,
        )

    def day(self, instant: datetime) -> str:
        return day_text(instant, tz=self.merchant.timezone, locale=self.merchant.locale)

    @property
    def ran(self) -> str:
        ran = ran_of(self.data)
        return format_ran(ran) if ran else ""


# ----------------------------------------------------------------------------------------------
# Subjects


def email_subject(merchant: Merchant, event_type: str, data: dict[str, Any]) -> str:
    """The subject line, in the active language."""
    facts = Facts(merchant, event_type, data, None, timezone.now())
    return _SUBJECTS[event_type](facts)


_SUBJECTS: dict[str, Callable[[Facts], str]] = {
    "return.created": lambda f: _("We have your return request %(ran)s") % {"ran": f.ran},
    "return.authorized": lambda f: _("Your return %(ran)s is approved") % {"ran": f.ran},
    "return.pending_review": lambda f: _("Your return %(ran)s is being reviewed") % {"ran": f.ran},
    "return.rejected": lambda f: _("Your return %(ran)s was not accepted") % {"ran": f.ran},
    "return.in_transit": lambda f: _("Your return %(ran)s is on its way") % {"ran": f.ran},
    "return.received": lambda f: _("We have received your return %(ran)s") % {"ran": f.ran},
    "return.inspected": lambda f: (
        _("We have checked the items of your return %(ran)s") % {"ran": f.ran}
    ),
    "refund.succeeded": lambda f: (
        _("Your refund of %(amount)s") % {"amount": f.money(f.data.get("amount"))}
    ),
    "store_credit.issued": lambda f: (
        _("Your store credit of %(amount)s") % {"amount": f.money(f.data.get("amount"))}
    ),
    "exchange.released": lambda f: (
        _("Your exchange for return %(ran)s is confirmed") % {"ran": f.ran}
    ),
    "return.expired": lambda f: _("Your return %(ran)s has expired") % {"ran": f.ran},
    "return.cancelled": lambda f: _("Your return %(ran)s is cancelled") % {"ran": f.ran},
    "webhook_endpoint.disabled": lambda f: (
        _("Webhook endpoint disabled: %(url)s") % {"url": f.data.get("url") or ""}
    ),
}


# ----------------------------------------------------------------------------------------------
# What each e-mail says


def _created(f: Facts) -> Content:
    c = Content(_SUBJECTS[f.event_type](f), _("We have your return request"))
    order = f.ret.order_number if f.ret else f.data.get("order_number") or ""
    if order:
        c.paragraphs.append(
            _("Thank you: we have your request to return items from order %(order)s.")
            % {"order": order}
        )
    else:
        c.paragraphs.append(_("Thank you: we have your return request."))
    c.paragraphs.append(_("We will e-mail you again as soon as it is decided."))
    if f.ret:
        c.items_title = _("What you are returning")
        c.items = [EmailItem(i.name, i.quantity) for i in f.ret.items]
    return c


def _authorized(f: Facts, enclosure: Enclosure | None) -> Content:
    c = Content(_SUBJECTS[f.event_type](f), _("Your return is approved"))
    if f.ret and f.ret.expires_at:
        c.paragraphs.append(
            _("Please send the items back by %(date)s.") % {"date": f.day(f.ret.expires_at)}
        )
    if enclosure is None:
        c.paragraphs.append(_("Your return label is waiting for you on your return's page."))
    elif enclosure.dropoff_code:
        c.paragraphs.append(_("No box or printer needed: show this code at the drop-off point."))
        c.code = enclosure.dropoff_code_shown or enclosure.dropoff_code
        c.qr = _qr_png(enclosure.dropoff_code)
        c.code_note = _("The code and a packing slip are also attached as a PDF.")
    else:
        c.paragraphs.append(
            _(
                "Your prepaid return label is attached. Print it, stick it on the parcel "
                "and hand the parcel to %(carrier)s."
            )
            % {"carrier": enclosure.carrier or _("the carrier")}
        )
        if enclosure.tracking_number:
            c.paragraphs.append(
                _("Tracking number: %(number)s") % {"number": enclosure.tracking_number}
            )
    if enclosure is not None:
        c.attachments.append((enclosure.filename, enclosure.pdf, "application/pdf"))
    if f.ret:
        c.items_title = _("How to pack")
        c.items = list(f.ret.items)
        if f.ret.condition:
            c.items_note = _("Condition required: %(condition)s") % {
                "condition": _(f.ret.condition)
            }
    return c


def _pending_review(f: Facts) -> Content:
    c = Content(_SUBJECTS[f.event_type](f), _("Your return is being reviewed"))
    c.paragraphs.append(
        _(
            "Our team checks some returns by hand before approving them. We will e-mail you "
            "as soon as yours is decided; there is nothing you need to do until then."
        )
    )
    return c


def _rejected(f: Facts) -> Content:
    c = Content(_SUBJECTS[f.event_type](f), _("We could not accept your return"))
    reasons = list(f.ret.rejection_reasons) if f.ret else []
    if reasons:
        c.paragraphs.append(_("Our return policy does not allow this return:"))
        c.reasons = [_(reason) for reason in reasons]
    else:
        c.paragraphs.append(_("After reviewing your request, we could not accept this return."))
    if f.merchant.support_email:
        c.after.append(_("If you have a question about this, just reply to this e-mail."))
    return c


def _simple(heading: Promise, *paragraphs: Promise) -> Callable[[Facts], Content]:
    """An e-mail that only says what happened (lazy texts: read in the e-mail's language)."""

    def content(f: Facts) -> Content:
        return Content(_SUBJECTS[f.event_type](f), str(heading), [str(p) for p in paragraphs])

    return content


def _inspected(f: Facts) -> Content:
    c = Content(_SUBJECTS[f.event_type](f), _("Your items have been checked"))
    c.paragraphs.append(_("We have checked the items you sent back."))
    c.paragraphs.append(
        _("If money or store credit is still due to you, we will e-mail you when it is issued.")
    )
    return c


def _figures(f: Facts, data: dict[str, Any]) -> list[Row]:
    """The settlement line by line: what each item was paid, what was taken off and why, the
    return's own deductions, the shipping refunded, and the total."""
    rows: list[Row] = []
    total = 0
    currency = ""
    for line in data.get("lines") or []:
        name = str(line.get("name") or line.get("sku") or "")
        rows.append(Row(name, f.money(line.get("paid")), quantity=int(line.get("quantity") or 1)))
        for deduction in line.get("deductions") or []:
            rows.append(_less(f, deduction))
        refund = line.get("refund") or {}
        total += int(refund.get("amount") or 0)
        currency = str(refund.get("currency") or currency)
    for deduction in data.get("return_deductions") or []:  # the return's own, not a line's
        rows.append(replace(_less(f, deduction), kind="item"))
    shipping = (data.get("shipping") or {}).get("amount") or {}
    if int(shipping.get("amount") or 0) > 0:
        rows.append(Row(_("Original shipping refunded"), f.money(shipping), "add"))
        total += int(shipping["amount"])
    if rows:
        rows.append(Row(_("Total"), f.money({"amount": total, "currency": currency}), "total"))
    return rows


def _less(f: Facts, deduction: dict[str, Any]) -> Row:
    code = str(deduction.get("code") or "")
    amount = deduction.get("amount") or {}
    taken = {**amount, "amount": -int(amount.get("amount") or 0)}
    return Row(str(DEDUCTION_TEXT.get(code, code.replace("_", " "))), f.money(taken), "less")


def _settlement_total(data: dict[str, Any]) -> int:
    lines = sum(int((line.get("refund") or {}).get("amount") or 0) for line in data["lines"])
    shipping = ((data.get("shipping") or {}).get("amount") or {}).get("amount") or 0
    return lines + int(shipping)


def _refund(f: Facts) -> Content:
    c = Content(_SUBJECTS[f.event_type](f), _("Your refund is on its way"))
    amount = f.money(f.data.get("amount"))
    method = f.data.get("method") or ""
    if method in METHOD_TEXT:
        c.paragraphs.append(
            _("We have refunded %(amount)s to %(method)s for return %(ran)s.")
            % {"amount": amount, "method": METHOD_TEXT[method], "ran": f.ran}
        )
    else:
        c.paragraphs.append(
            _("We have refunded %(amount)s for return %(ran)s.") % {"amount": amount, "ran": f.ran}
        )
    if method in ("card", "paypal"):
        c.paragraphs.append(_("It can take a few business days to show on your statement."))
    c.rows = _figures(f, f.data)
    if c.rows:
        c.rows_title = _("How your refund was worked out")
        if _settlement_total(f.data) != int((f.data.get("amount") or {}).get("amount") or 0):
            c.after.append(
                _(
                    "The total is paid back in parts, each to the way you paid; you get an "
                    "e-mail for each part."
                )
            )
    return c


def _store_credit(f: Facts) -> Content:
    c = Content(_SUBJECTS[f.event_type](f), _("Your store credit is ready"))
    c.paragraphs.append(
        _("%(amount)s of store credit has been added for %(email)s.")
        % {"amount": f.money(f.data.get("amount")), "email": f.data.get("email", "")}
    )
    bonus = f.data.get("bonus") or {}
    if int(bonus.get("amount") or 0) > 0:
        c.paragraphs.append(_("That includes a bonus of %(bonus)s.") % {"bonus": f.money(bonus)})
    c.paragraphs.append(
        _("Your store credit balance is now %(balance)s.")
        % {"balance": f.money(f.data.get("balance"))}
    )
    if f.data.get("expires_at"):
        c.paragraphs.append(
            _("Use it by %(date)s.")
            % {"date": f.day(datetime.fromisoformat(str(f.data["expires_at"])))}
        )
    refund = _refund_of_credit(f)
    if refund:
        c.rows = _figures(f, refund)
        if c.rows and int(bonus.get("amount") or 0) > 0:
            c.rows.insert(-1, Row(_("Bonus"), f.money(bonus)))
            c.rows[-1] = Row(_("Total"), f.money(f.data.get("amount")), "total")
        if c.rows:
            c.rows_title = _("How your store credit was worked out")
    return c


def _refund_of_credit(f: Facts) -> dict[str, Any]:
    """The `refund.succeeded` data written with this credit, when a return's refund paid it:
    the store credit event names the refund but does not repeat its figures."""
    reference = (f.data.get("source") or {}).get("refund")
    if not reference:
        return {}
    message = (
        OutboxMessage._base_manager.filter(
            merchant_id=f.merchant.pk, type="refund.succeeded", payload__data__refund=reference
        )
        .only("payload")
        .first()
    )
    return dict((message.payload.get("data") or {}) if message else {})


def _exchange(f: Facts) -> Content:
    c = Content(_SUBJECTS[f.event_type](f), _("Your replacement is on its way"))
    exchange = f.data.get("exchange") or {}
    c.paragraphs.append(
        _("In exchange for your return we are sending you %(name)s (quantity: %(quantity)s).")
        % {"quantity": exchange.get("quantity", 1), "name": exchange.get("name", "")}
    )
    difference = exchange.get("difference") or {}
    owed = int(difference.get("amount") or 0)
    if owed > 0:
        c.paragraphs.append(
            _("You paid the difference of %(amount)s.") % {"amount": f.money(difference)}
        )
    elif owed < 0:
        back = {**difference, "amount": -owed}
        c.paragraphs.append(
            _("The difference of %(amount)s is refunded to you.") % {"amount": f.money(back)}
        )
    return c


def _endpoint_disabled(f: Facts) -> Content:
    """To the merchant, not a shopper: its endpoint failed for days and was switched off."""
    c = Content(_SUBJECTS[f.event_type](f), _("A webhook endpoint was disabled"))
    c.paragraphs.append(
        _(
            "We could not deliver events to %(url)s for three days, so the endpoint is now "
            "disabled and its pending deliveries are cancelled."
        )
        % {"url": f.data.get("url") or ""}
    )
    if f.data.get("reason"):
        c.reasons.append(str(f.data["reason"]))
    c.after.append(
        _(
            "Fix the receiver, then enable the endpoint again in the console (Administration, "
            "Webhooks) or with PATCH /webhook-endpoints/%(id)s; staff can redeliver what it "
            "missed from its delivery log."
        )
        % {"id": f.data.get("endpoint") or ""}
    )
    return c


_CONTENT: dict[str, Callable[[Facts], Content]] = {
    "webhook_endpoint.disabled": _endpoint_disabled,
    "return.created": _created,
    "return.pending_review": _pending_review,
    "return.rejected": _rejected,
    "return.in_transit": _simple(
        gettext_lazy("Your parcel is on its way"),
        gettext_lazy(
            "The carrier has your parcel. We will e-mail you when it arrives at our returns centre."
        ),
    ),
    "return.received": _simple(
        gettext_lazy("Your parcel has arrived"),
        gettext_lazy(
            "Your parcel has arrived at our returns centre. We will check the items next."
        ),
    ),
    "return.inspected": _inspected,
    "refund.succeeded": _refund,
    "store_credit.issued": _store_credit,
    "exchange.released": _exchange,
    "return.expired": _simple(
        gettext_lazy("Your return has expired"),
        gettext_lazy(
            "Nothing arrived for this return before its deadline, so it has expired and its "
            "label no longer works."
        ),
        gettext_lazy("If you still want to return the items, please get in touch with us."),
    ),
    "return.cancelled": _simple(
        gettext_lazy("Your return is cancelled"),
        gettext_lazy(
            "Your return has been cancelled: there is nothing to send, and any label for it "
            "no longer works."
        ),
    ),
}


def _qr_png(code: str) -> bytes:
    out = io.BytesIO()
    segno.make(code, error="m", micro=False).save(out, kind="png", scale=6, border=4)
    return out.getvalue()


# ----------------------------------------------------------------------------------------------
# The message


def email_build(
    delivery: EmailDelivery, merchant: Merchant, ret: ReturnFacts | None
) -> EmailMultiAlternatives | None:
    """The e-mail for a delivery, or None while the approval still waits for its label."""
    message = delivery.message
    data = message.payload.get("data") or {}
    f = Facts(merchant, delivery.event_type, data, ret, message.created_at)
    if delivery.event_type == "return.authorized":
        enclosure = return_enclosure(merchant.pk, delivery.ran)
        waiting = ret is not None and ret.status == "authorized"
        if enclosure is None and waiting and timezone.now() < f.at + LABEL_WAIT:
            return None
        content = _authorized(f, enclosure)
    else:
        content = _CONTENT[delivery.event_type](f)
    context = _context(f, content, delivery)
    text = _tidy(render_to_string("notifications/email/message.txt", context))
    html = render_to_string("notifications/email/message.html", context)
    email = EmailMultiAlternatives(
        subject=content.subject,
        body=text,
        from_email=sender(merchant),
        to=[delivery.to_email],
        reply_to=[merchant.support_email] if merchant.support_email else None,
        headers={
            # RFC 3834: an automatic message, so that auto-responders stay quiet.
            "Auto-Submitted": "auto-generated",
            "X-ReturnDesk-Event": delivery.event_type,
        },
    )
    email.attach_alternative(html, "text/html")
    if content.qr:
        image = MIMEPart()
        image.set_content(
            content.qr,
            maintype="image",
            subtype="png",
            disposition="inline",
            filename="dropoff-code.png",
            cid=f"<{context['qr_cid']}>",
        )
        email.attach(image)
    for filename, payload, mimetype in content.attachments:
        email.attach(filename, payload, mimetype)
    return email


def _tidy(text: str) -> str:
    """The plain-text part without the blank lines its template's tags leave behind."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def sender(merchant: Merchant) -> str:
    """`"Acme via ReturnDesk" <returns@...>`: the shopper sees whose return it is."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    name = _("%(merchant)s via %(provider)s") % {
        "merchant": merchant.name,
        "provider": Provider.current().name,
    }
    return str(Address(display_name=name, addr_spec=address or "returns@localhost"))


def _context(f: Facts, content: Content, delivery: EmailDelivery) -> dict[str, Any]:
    merchant = f.merchant
    brand = merchant.brand_color or "#1F6FEB"
    logo = ""
    if merchant.logo:
        logo = settings.RETURNDESK_PUBLIC_URL.rstrip("/") + merchant.logo.url
    ran = ran_of(f.data)
    order = (f.ret.order_number if f.ret else "") or f.data.get("order_number") or ""
    return {
        "merchant": merchant,
        "brand": brand,
        "brand_text": readable_on(brand),
        "logo_url": logo,
        "c": content,
        "ran": f.ran,
        "order_number": order,
        "status_url": status_link(merchant, ran),
        "qr_cid": make_msgid(domain="returndesk")[1:-1] if content.qr else "",
        "delivery": delivery,
    }
