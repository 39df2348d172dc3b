from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "returndesk.operations"
    label = "operations"
