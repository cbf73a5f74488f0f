import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from channels_integrations.fake_platforms import start_fake_platforms


class Command(BaseCommand):
    help = "Run the fake platform servers (with the demo generators) in the foreground."

    def handle(self, *args: Any, **options: Any) -> None:
        fakes = start_fake_platforms(
            host=settings.FAKE_PLATFORM_HOST,
            port=settings.FAKE_PLATFORM_PORT,
            mention_interval=settings.DEMO_MENTION_INTERVAL,
            imap_port=settings.FAKE_MAIL_IMAP_PORT,
            smtp_port=settings.FAKE_MAIL_SMTP_PORT,
        )
        self.stdout.write(f"Fake platforms on {fakes.server.url}/ (admin pages linked there)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            fakes.stop()
