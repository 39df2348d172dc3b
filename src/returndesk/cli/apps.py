from django.apps import AppConfig


class CliConfig(AppConfig):
    name = "returndesk.cli"
    label = "cli"
