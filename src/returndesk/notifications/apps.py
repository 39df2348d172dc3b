from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "returndesk.notifications"
    label = "notifications"
