from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returndesk.returns"
    label = "returns"

    def ready(self) -> None:
        # Shopper e-mails read the return (whom to write to, its items) and put each e-mail
        # sent or given up on its timeline (docs/decisions/0017-shopper-emails.md).
        from returndesk.notifications.email_hooks import on_email_outcome, on_return_facts
        from returndesk.returns.emails import email_outcome_record, return_email_facts

        on_return_facts(return_email_facts)
        on_email_outcome(email_outcome_record)
