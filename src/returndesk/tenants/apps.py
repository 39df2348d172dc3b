from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "returndesk.tenants"
    label = "tenants"
