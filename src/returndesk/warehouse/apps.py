from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "returndesk.warehouse"
    label = "warehouse"
