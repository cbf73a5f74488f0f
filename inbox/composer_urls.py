from django.urls import path

from inbox import composer_views

urlpatterns = [
    path("c/<int:pk>/reply/", composer_views.reply, name="reply"),
]
