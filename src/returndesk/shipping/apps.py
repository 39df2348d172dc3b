from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "returndesk.shipping"
    label = "shipping"

    def ready(self) -> None:
        # A return that is cancelled, expired or rejected must not keep a usable label: the
        # returns app calls this hook inside its transition (docs/decisions/0004-shipping.md).
        from returndesk.notifications.email_hooks import on_enclosure
        from returndesk.returns.lifecycle import on_release
        from returndesk.shipping.emails import label_enclosure
        from returndesk.shipping.services import labels_release_for_return

        on_release(labels_release_for_return)
        # The approval e-mail carries the label (docs/decisions/0017-shopper-emails.md).
        on_enclosure(label_enclosure)
