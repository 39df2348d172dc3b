from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "returndesk.notifications"
    label = "notifications"

    def ready(self) -> None:
        from returndesk.notifications.dispatch import on_dispatch
        from returndesk.notifications.emails import email_fan_out
        from returndesk.notifications.webhooks import webhook_deliveries_fan_out

        on_dispatch("emails", email_fan_out)
        on_dispatch("webhooks", webhook_deliveries_fan_out)
