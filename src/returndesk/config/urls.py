from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import include, path

from returndesk.api.main import api, healthz, readyz


def _superusers_only(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


admin.site.has_permission = _superusers_only  # type: ignore[method-assign]
admin.site.site_header = "ReturnDesk administration"


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/console/")


urlpatterns = [
    path("", home),
    path("healthz", healthz),
    path("readyz", readyz),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("console/", include("returndesk.console.urls")),
    path("r/", include("returndesk.portal.urls")),
]
