"""Console URLs: each area's module lists its own patterns (console/views/)."""

from returndesk.console.views import (
    admin,
    agent,
    analytics,
    audit,
    carriers,
    common,
    credit,
    finance,
    inspection,
    inspection_settings,
    integrations,
    operations,
    payment_settings,
    policy,
    returns,
    review,
    shipping,
    station,
    webhooks,
)

app_name = "console"
urlpatterns = [
    *common.urlpatterns,
    *admin.urlpatterns,
    *carriers.urlpatterns,
    *webhooks.urlpatterns,
    *audit.urlpatterns,
    *analytics.urlpatterns,
    *operations.urlpatterns,
    *credit.urlpatterns,
    *finance.urlpatterns,
    *payment_settings.urlpatterns,
    *integrations.urlpatterns,
    *shipping.urlpatterns,  # before returns: its <ran>/<action>/ would take label/
    *inspection.urlpatterns,  # before returns (and beside the station it extends)
    *station.urlpatterns,
    *inspection_settings.urlpatterns,
    *returns.urlpatterns,
    *agent.urlpatterns,
    *review.urlpatterns,
    *policy.urlpatterns,
]
