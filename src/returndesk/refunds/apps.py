from typing import Any

from django.apps import AppConfig

# The statuses after which a return's money may change: something became due (a scan, the
# receipt, the inspection), or money paid early must be looked at again (expired, lost,
# cancelled).
MONEY_STATUSES = frozenset(
    {
        "authorized",
        "in_transit",
        "delivered",
        "received",
        "inspected",
        "expired",
        "lost",
        "cancelled",
    }
)


def _money_may_have_changed(*, ret: Any, from_status: str, to_status: str, actor: Any) -> None:
    from returndesk.refunds.exchanges import exchanges_open
    from returndesk.refunds.services import refund_trigger_record

    if to_status == "authorized":
        exchanges_open(ret=ret, actor=actor)  # exchange.requested with the authorization
    if to_status in MONEY_STATUSES:
        refund_trigger_record(ret=ret, status=to_status)


class RefundsConfig(AppConfig):
    name = "returndesk.refunds"
    label = "refunds"

    def ready(self) -> None:
        from returndesk.returns.lifecycle import on_transition

        on_transition(_money_may_have_changed)
