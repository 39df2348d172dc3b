from django.contrib.auth import views as auth_views
from django.urls import path

from returndesk.console import views

app_name = "console"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("", views.start, name="start"),
    path("m/<slug:slug>/", views.home, name="home"),
    path("m/<slug:slug>/returns/", views.returns, name="returns"),
    path("m/<slug:slug>/returns/<str:ran>/", views.return_detail, name="return"),
    path(
        "m/<slug:slug>/returns/<str:ran>/<slug:action>/",
        views.return_action,
        name="return_action",
    ),
]
