from django.urls import URLPattern, URLResolver, path

from inbox.webhooks import views

app_name = "webhooks"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.subscription_list, name="list"),
    path("new/", views.subscription_create, name="create"),
    path("<int:pk>/", views.subscription_edit, name="edit"),
    path("<int:pk>/delete/", views.subscription_delete, name="delete"),
    path("<int:pk>/rotate-secret/", views.rotate_secret, name="rotate_secret"),
    path("<int:pk>/test/", views.send_test, name="test"),
    path("<int:pk>/deliveries/", views.delivery_log, name="deliveries"),
    path("deliveries/<int:pk>/status/", views.delivery_status, name="delivery_status"),
    path("deliveries/<int:pk>/redeliver/", views.redeliver, name="redeliver"),
]
