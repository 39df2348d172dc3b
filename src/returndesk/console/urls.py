"""Console URLs: each area's module lists its own patterns (console/views/)."""

from returndesk.console.views import common, policy, returns

app_name = "console"
urlpatterns = [*common.urlpatterns, *returns.urlpatterns, *policy.urlpatterns]
