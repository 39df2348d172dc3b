"""Helpers for the shopper e-mail tests: run the worker's two jobs (fan-out, then sending) and
read the e-mails Django's locmem backend kept."""

from __future__ import annotations

from email.message import EmailMessage as MimeMessage
from typing import Any

from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django_scopes import scopes_disabled

from returndesk.notifications.dispatch import outbox_dispatch_due
from returndesk.notifications.emails import email_deliveries_send_due
from returndesk.notifications.models import EmailDelivery

SHOPPER = "shopper@example.com"


def deliver() -> list[EmailMultiAlternatives]:
    """The worker's outbox fan-out and e-mail jobs, once each; answers every e-mail sent."""
    outbox_dispatch_due()
    email_deliveries_send_due()
    return list(mail.outbox)


def sent(event_type: str) -> list[EmailMultiAlternatives]:
    return [m for m in mail.outbox if m.extra_headers.get("X-ReturnDesk-Event") == event_type]


def only(event_type: str) -> EmailMultiAlternatives:
    found = sent(event_type)
    assert len(found) == 1, [m.subject for m in mail.outbox]
    return found[0]


def html_of(email: EmailMultiAlternatives) -> str:
    (alternative,) = email.alternatives
    assert alternative.mimetype == "text/html"
    return str(alternative.content)


def parts(email: EmailMultiAlternatives) -> MimeMessage:
    return email.message()


def deliveries(**filters: Any) -> list[EmailDelivery]:
    with scopes_disabled():
        return list(EmailDelivery.objects.filter(**filters).order_by("id"))
