"""The built-in `manual` provider: finance pays outside ReturnDesk and marks the refund paid.

It needs no outside service, so the demo runs offline. A refund answers `pending` with no
reference; `POST /refunds/{id}/mark-paid` records finance's reference later. It cannot collect
a payment from a shopper: staff records an exchange difference as paid instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from returndesk.refunds.providers.base import (
    Collection,
    CollectionUnsupported,
    RefundOrder,
    RefundOutcome,
)


class ManualProvider:
    name = "manual"

    def refund(self, order: RefundOrder) -> RefundOutcome:
        return RefundOutcome(
            status="pending",
            reference="",
            raw={"provider": "manual", "refund_id": order.refund_id},
        )

    def collect(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Collection:
        raise CollectionUnsupported("manual payments cannot collect from the shopper")
