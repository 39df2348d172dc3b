"""The label for the shopper's approval e-mail (registered in `ShippingConfig.ready`): the same
PDF the portal and the API print, or the drop-off code with its packing slip."""

from __future__ import annotations

from returndesk.core.codes import format_ran
from returndesk.core.tenancy import merchant_scope
from returndesk.notifications.email_hooks import Enclosure
from returndesk.returns.models import Return
from returndesk.shipping.labels import format_dropoff_code
from returndesk.shipping.models import MODE_DROPOFF
from returndesk.shipping.selectors import active_label
from returndesk.shipping.services import label_pdf


def label_enclosure(merchant_id: int, ran: str) -> Enclosure | None:
    """The return's active label as an e-mail attachment; None while it has none."""
    with merchant_scope(merchant_id):
        ret = Return.objects.filter(ran=ran).first()
        label = active_label(ret=ret) if ret is not None else None
        if ret is None or label is None:
            return None
        pdf = label_pdf(label=label)
    dropoff = label.dropoff_code if label.kind == MODE_DROPOFF else ""
    return Enclosure(
        pdf=pdf,
        filename=f"return-{format_ran(ran)}.pdf",
        carrier=label.carrier,
        tracking_number=label.tracking_number,
        dropoff_code=dropoff,
        dropoff_code_shown=format_dropoff_code(dropoff) if dropoff else "",
    )
