from django.urls import path

from channels_integrations import views

app_name = "channels"

urlpatterns = [
    path("", views.channel_list, name="list"),
]
