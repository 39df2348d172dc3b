from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "returndesk.credit"
    label = "credit"
