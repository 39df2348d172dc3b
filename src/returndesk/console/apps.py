from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "returndesk.console"
    label = "console"
