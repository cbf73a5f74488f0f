"""The live-update websocket's URL (config/asgi.py routes websocket connections here)."""

from django.urls import path

from inbox.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
]
