from django.urls import path

from returndesk.portal import views

app_name = "portal"
urlpatterns = [
    path("<slug:slug>/", views.find_order, name="find"),
    path("<slug:slug>/order/", views.order, name="order"),
]
