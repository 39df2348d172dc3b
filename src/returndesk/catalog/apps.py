from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "returndesk.catalog"
    label = "catalog"
