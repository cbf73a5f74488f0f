from django.apps import AppConfig


class ChannelsIntegrationsConfig(AppConfig):
    name = "channels_integrations"
    verbose_name = "Channels"
