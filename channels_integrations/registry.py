"""Platform → connector class, imported lazily so one platform's import cost is paid when used."""

import logging
from importlib import import_module

from django.utils import timezone

from channels_integrations.base import ConnectionSettings, Connector
from channels_integrations.http import platform_session
from channels_integrations.models import ChannelAccount

logger = logging.getLogger(__name__)

CONNECTORS: dict[str, str] = {
    "mastodon": "channels_integrations.mastodon.connector.MastodonConnector",
    "facebook": "channels_integrations.facebook.connector.FacebookConnector",
    "instagram": "channels_integrations.instagram.connector.InstagramConnector",
    "youtube": "channels_integrations.youtube.connector.YouTubeConnector",
    "x": "channels_integrations.x.connector.XConnector",
    "telegram": "channels_integrations.telegram.connector.TelegramConnector",
    "email": "channels_integrations.email.connector.EmailConnector",
}


def connector_class(platform: str) -> type[Connector]:
    try:
        dotted = CONNECTORS[platform]
    except KeyError:
        raise LookupError(f"no connector for platform {platform!r}") from None
    module_name, _, class_name = dotted.rpartition(".")
    cls: type[Connector] = getattr(import_module(module_name), class_name)
    return cls


def connector_for(account: ChannelAccount) -> Connector:
    cls = connector_class(account.platform)
    today = cls.quota_day(timezone.now())
    connection = ConnectionSettings(
        settings=dict(account.settings),
        credentials=account.get_credentials(),
        quota_used_today=account.quota_used if account.quota_day == today else 0,
    )
    return cls(connection, platform_session())


def record_connector_usage(account_id: int, connector: Connector | None) -> None:
    """After calls: the quota the connector spent, and a token it refreshed.

    Called on every way out of a poll or a delivery, errors included, so it never raises: a
    failure to record is logged and must not hide the error being handled.
    """
    if connector is None:
        return
    try:
        _record(account_id, connector)
    except Exception:
        logger.exception("channel %s: could not record quota use or a refreshed token", account_id)


def _record(account_id: int, connector: Connector) -> None:
    from channels_integrations import actions

    if connector.units_spent:
        actions.record_quota_use(
            account_id, day=connector.quota_day(timezone.now()), units=connector.units_spent
        )
        connector.units_spent = 0
    if connector.updated_credentials is not None:
        actions.store_refreshed_credentials(account_id, connector.updated_credentials)
        connector.updated_credentials = None
