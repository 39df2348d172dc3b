from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "returndesk.analytics"
    label = "analytics"
