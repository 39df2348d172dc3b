from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "returndesk.portal"
    label = "portal"

    def ready(self) -> None:
        # Shopper e-mails link to the return's status page; notifications sits below the
        # portal, so the portal hands it the signing (docs/decisions/0017-shopper-emails.md).
        from returndesk.notifications.email_hooks import on_status_link
        from returndesk.portal.links import status_link

        on_status_link(status_link)
