from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "returndesk.integrations"
    label = "integrations"

    def ready(self) -> None:
        # Refunds paid in ReturnDesk are written back to Shopify from the outbox's fan-out; the
        # notifications app never imports this one (docs/decisions/0014-shop-integrations.md).
        from returndesk.integrations.writeback import shop_write_back_fan_out
        from returndesk.notifications.dispatch import on_dispatch

        on_dispatch("shop_write_back", shop_write_back_fan_out)
