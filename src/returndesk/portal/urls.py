from django.urls import path

from returndesk.portal.views import confirm, flow, lookup, receipt, shipping, status

app_name = "portal"
urlpatterns = [
    path("<slug:slug>/", lookup.find_order, name="find"),
    path("<slug:slug>/receipt/", lookup.find_receipt, name="receipt"),
    path("<slug:slug>/receipt/items/", receipt.items, name="receipt_items"),
    path("<slug:slug>/order/", flow.items, name="order"),
    path("<slug:slug>/reasons/", flow.reasons, name="reasons"),
    path("<slug:slug>/resolution/", flow.resolution, name="resolution"),
    path("<slug:slug>/review/", confirm.review, name="review"),
    path("<slug:slug>/returns/<str:ran>/", confirm.confirmation, name="confirmation"),
    path("<slug:slug>/find-return/", lookup.find_return, name="find_return"),
    path("<slug:slug>/status/<str:token>/", status.status, name="status"),
    path("<slug:slug>/status/<str:token>/cancel/", status.cancel, name="cancel"),
    path("<slug:slug>/status/<str:token>/label.pdf", shipping.label_pdf, name="label_pdf"),
    path("<slug:slug>/status/<str:token>/label/", shipping.label_get, name="label_issue"),
]
