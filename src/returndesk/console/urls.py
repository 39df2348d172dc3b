"""Console URLs: each area's module lists its own patterns (console/views/)."""

from returndesk.console.views import (
    admin,
    agent,
    audit,
    carriers,
    common,
    credit,
    inspection,
    inspection_settings,
    operations,
    integrations,
    policy,
    returns,
    review,
    shipping,
    station,
)

app_name = "console"
urlpatterns = [
    *common.urlpatterns,
    *admin.urlpatterns,
    *carriers.urlpatterns,
    *audit.urlpatterns,
    *operations.urlpatterns,
    *credit.urlpatterns,
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
