"""Ad-hoc tasks of the shipping app (django.tasks, database backend)."""

from __future__ import annotations

from django.tasks import task


@task()
def process_carrier_webhook(webhook_id: int) -> str:
    """Process one stored carrier webhook; safe to run twice (the row is claimed with a lease,
    and a scan already recorded is not recorded again). Answers the row's state."""
    from returndesk.shipping.tracking import carrier_webhook_process

    return carrier_webhook_process(webhook_id=webhook_id)
