"""Console URLs: each area's module lists its own patterns (console/views/)."""

from returndesk.console.views import admin, agent, audit, common, policy, returns, review

app_name = "console"
urlpatterns = [
    *common.urlpatterns,
    *admin.urlpatterns,
    *audit.urlpatterns,
    *returns.urlpatterns,
    *agent.urlpatterns,
    *review.urlpatterns,
    *policy.urlpatterns,
]
