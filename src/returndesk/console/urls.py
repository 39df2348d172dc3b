"""Console URLs: each area's module lists its own patterns (console/views/)."""

from returndesk.console.views import admin, audit, common, policy, returns

app_name = "console"
urlpatterns = [
    *common.urlpatterns,
    *admin.urlpatterns,
    *audit.urlpatterns,
    *returns.urlpatterns,
    *policy.urlpatterns,
]
