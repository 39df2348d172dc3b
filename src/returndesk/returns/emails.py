"""What the shopper e-mails need from returns (registered in `ReturnsConfig.ready`): the facts of
a return for notifications' e-mails, and the timeline entry for each e-mail sent or given up.

notifications sits below returns and cannot read a return itself; docs/decisions/0017.
"""

from __future__ import annotations

from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from returndesk.notifications.email_hooks import EmailItem, ReturnFacts
from returndesk.notifications.models import EmailDelivery
from returndesk.returns.lifecycle import return_event_record
from returndesk.returns.models import Return
from returndesk.returns.shopper import return_packing

# The clauses that refuse a line (policies/engine.py); their shopper message is the reason a
# shopper is given for a return the policy rejected.
REFUSING_CLAUSES = frozenset({"final_sale", "not_returnable", "window_expired", "already_returned"})
EMAIL_ACTOR = Actor.system("e-mail")


def return_email_facts(merchant_id: int, ran: str) -> ReturnFacts | None:
    """Whom a shopper e-mail about the return goes to (a gift's recipient, never the buyer, for
    a gift return), and what it holds. None for a return that is not there."""
    with merchant_scope(merchant_id):
        ret = Return.objects.filter(ran=ran).select_related("order").first()
        if ret is None:
            return None
        items = tuple(
            EmailItem(
                name=item.name or item.sku, quantity=item.quantity, instructions=item.instructions
            )
            for item in return_packing(ret=ret)
        )
    return ReturnFacts(
        email=ret.gift_recipient_email if ret.gift else ret.email,
        gift=ret.gift,
        status=ret.status,
        order_number=ret.order.order_number if ret.order else ret.claimed_order_number,
        resolution=ret.resolution,
        expires_at=ret.expires_at,
        condition=str(ret.decision.get("condition_required") or ""),
        items=items,
        rejection_reasons=_policy_reasons(ret),
    )


def _policy_reasons(ret: Return) -> tuple[str, ...]:
    """The policy's words to the shopper when the policy itself refused the return. A return
    staff rejected after review gets none: what staff type is for the timeline only."""
    if ret.decision.get("outcome") != "rejected":
        return ()
    reasons: list[str] = []
    for verdict in ret.decision.get("verdicts", []):
        if verdict.get("eligible"):
            continue
        for clause in verdict.get("clauses", []):
            message = str(clause.get("shopper_message") or "")
            if clause.get("code") in REFUSING_CLAUSES and message and message not in reasons:
                reasons.append(message)
    return tuple(reasons)


def email_outcome_record(delivery: EmailDelivery) -> None:
    """An e-mail sent, or given up after its retries, goes on its return's timeline (staff see
    it in the console). A gift recipient's address is not written there: the buyer's side may
    read the timeline, and must not learn who returned the gift."""
    if not delivery.ran:
        return
    with merchant_scope(delivery.merchant_id):
        ret = Return.objects.filter(ran=delivery.ran).first()
        if ret is None:
            return
        to = "the gift's recipient" if ret.gift else delivery.to_email
        sent = delivery.state == EmailDelivery.SENT
        return_event_record(
            ret=ret,
            type="email.sent" if sent else "email.failed",
            actor=EMAIL_ACTOR,
            reason=(
                f"{delivery.event_type} e-mail to {to}: {delivery.subject}"
                if sent
                else f"{delivery.event_type} e-mail to {to} not sent after "
                f"{delivery.attempts} attempts: {delivery.last_error}"
            ),
            payload={
                "email": delivery.public_id,
                "event_type": delivery.event_type,
                "event_id": delivery.message.event_id,
                "attempts": delivery.attempts,
            },
            notify=False,
        )
