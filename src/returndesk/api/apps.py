from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "returndesk.api"
    label = "api"
