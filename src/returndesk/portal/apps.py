from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "returndesk.portal"
    label = "portal"
