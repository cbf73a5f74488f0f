"""Four-eyes review and the in-app side of consulting; included in inbox/urls.py (namespace
"inbox")."""

from django.urls import path

from inbox import approval_views, consult_views

urlpatterns = [
    path("outbox/<int:pk>/review/", approval_views.review_controls, name="review_reply"),
    path("outbox/<int:pk>/approve/", approval_views.approve, name="approve_reply"),
    path("outbox/<int:pk>/reject/", approval_views.reject, name="reject_reply"),
    path("c/<int:pk>/consultations/", consult_views.consultations, name="consultations"),
    path("c/<int:pk>/consult/", consult_views.request_advice, name="consult_request"),
    path(
        "consultations/<int:pk>/withdraw/",
        consult_views.withdraw,
        name="consult_withdraw",
    ),
]
