"""Ad-hoc tasks of the integrations app (django.tasks, database backend): the first attempt at
each stored webhook and write-back, enqueued in the transaction that stored the row. The
worker's periodic sweeps are the backstop for a task lost with its worker."""

from __future__ import annotations

from django.tasks import task


@task()
def process_shop_webhook(webhook_id: int) -> str:
    """Process one stored shop webhook; safe to run twice (claimed with a lease)."""
    from returndesk.integrations.webhooks import shop_webhook_process

    return shop_webhook_process(webhook_id=webhook_id)


@task()
def send_shop_write_back(write_back_id: int) -> str:
    """Send one refund write-back to Shopify; safe to run twice (claimed with a lease, and a
    refund Shopify already has is found there instead of created again)."""
    from returndesk.integrations.writeback import shop_write_back_send

    return shop_write_back_send(write_back_id=write_back_id)
