"""What the apps above notifications add to a shopper e-mail, through registries they fill at
start (docs/decisions/0017-shopper-emails.md). notifications sits below returns, shipping and
the portal and imports none of them; each registers here from its `AppConfig.ready`:

- returns: `on_return_facts` (whom to write to, the items, the policy's reasons) and
  `on_email_outcome` (a sent or failed e-mail onto the return's timeline);
- shipping: `on_enclosure` (the label PDF, or the drop-off code, for the approval e-mail);
- portal: `on_status_link` (the signed link to the return's status page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from returndesk.notifications.models import EmailDelivery
from returndesk.tenants.models import Merchant


@dataclass(frozen=True)
class EmailItem:
    name: str
    quantity: int
    instructions: str = ""  # the product's packing instructions


@dataclass(frozen=True)
class ReturnFacts:
    """What a shopper e-mail says about its return, read by the returns app."""

    email: str  # whom the shopper's e-mails go to: the buyer, or a gift's recipient
    gift: bool
    status: str  # the return's status now
    order_number: str
    resolution: str
    expires_at: datetime | None
    condition: str  # the condition the policy asks for
    items: tuple[EmailItem, ...]
    # The policy's own words to the shopper for a return it refused; what staff type stays in.
    rejection_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enclosure:
    """The return's label (or drop-off code) for the approval e-mail, from shipping."""

    pdf: bytes  # the label and packing slip
    filename: str
    carrier: str = ""
    tracking_number: str = ""
    dropoff_code: str = ""  # raw, for the QR code; empty for a carrier label
    dropoff_code_shown: str = ""  # as printed: grouped for reading aloud


FactsProvider = Callable[[int, str], ReturnFacts | None]  # (merchant id, RAN)
EnclosureProvider = Callable[[int, str], Enclosure | None]  # (merchant id, RAN)
LinkProvider = Callable[[Merchant, str], str]  # (merchant, RAN) -> absolute status-page URL
OutcomeCallback = Callable[[EmailDelivery], None]


class _Registry:
    facts: FactsProvider | None = None
    enclosure: EnclosureProvider | None = None
    status_link: LinkProvider | None = None
    outcome: list[OutcomeCallback] = []


def on_return_facts(provider: FactsProvider) -> None:
    """The returns app: `provider(merchant_id, ran)` answers a return's facts, or None."""
    _Registry.facts = provider


def on_enclosure(provider: EnclosureProvider) -> None:
    """The shipping app: `provider(merchant_id, ran)` answers the active label, or None."""
    _Registry.enclosure = provider


def on_status_link(provider: LinkProvider) -> None:
    """The portal: `provider(merchant, ran)` answers the absolute signed status-page link."""
    _Registry.status_link = provider


def on_email_outcome(callback: OutcomeCallback) -> None:
    """Call `callback(delivery)` when a delivery is sent or finally fails, inside the
    transaction that records it (the returns app writes the timeline entry)."""
    if callback not in _Registry.outcome:
        _Registry.outcome.append(callback)


def ran_of(data: dict[str, Any]) -> str:
    """The RAN an event's data names: its own, or (store credit) its source's."""
    return str(data.get("ran") or (data.get("source") or {}).get("ran") or "")


def outcome_callbacks() -> list[OutcomeCallback]:
    return list(_Registry.outcome)


def return_facts(merchant_id: int, ran: str | None) -> ReturnFacts | None:
    if not ran or _Registry.facts is None:
        return None
    return _Registry.facts(merchant_id, ran)


def return_enclosure(merchant_id: int, ran: str | None) -> Enclosure | None:
    if not ran or _Registry.enclosure is None:
        return None
    return _Registry.enclosure(merchant_id, ran)


def status_link(merchant: Merchant, ran: str | None) -> str:
    if not ran or _Registry.status_link is None:
        return ""
    return _Registry.status_link(merchant, ran)
