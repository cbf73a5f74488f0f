"""Create (or refresh) the demo workspace: users, a department, and one channel per platform
aimed at the built-in fake servers. Safe to run again."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from channels_integrations.fake_platforms import demo_mail_channel, demo_platforms
from channels_integrations.models import ChannelAccount, ChannelStatus, Platform
from inbox.composer import seed_demo_saved_replies
from inbox.models import Department, Membership, MembershipRole

DEMO_PASSWORD = "inbox-demo"  # noqa: S105  (printed on purpose: it is a local demo)


class Command(BaseCommand):
    help = (
        "Create the demo workspace (admin, agent, department, a channel per platform on the fakes)."
    )

    def _demo_channel(
        self,
        platform: str,
        name: str,
        settings_: dict[str, Any],
        credentials: dict[str, Any],
        department: Department,
    ) -> None:
        channel = ChannelAccount.objects.filter(platform=platform, name=name).first()
        if channel is None:
            channel = ChannelAccount(platform=platform, name=name)
        channel.settings = settings_
        channel.set_credentials(credentials)
        channel.status = ChannelStatus.ACTIVE
        channel.status_reason = ""
        channel.poll_interval_seconds = 3
        channel.save()
        department.channel_accounts.add(channel)

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username="admin",
            defaults={
                "is_staff": True,
                "is_superuser": True,
                "first_name": "Alex",
                "last_name": "Admin",
            },
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        agent, created = User.objects.get_or_create(
            username="agent", defaults={"first_name": "Kim", "last_name": "Berger"}
        )
        if created:
            agent.set_password(DEMO_PASSWORD)
            agent.save()

        department, _ = Department.objects.get_or_create(
            slug="community", defaults={"name": "Community"}
        )
        Membership.objects.get_or_create(
            user=admin, department=department, defaults={"role": MembershipRole.LEAD}
        )
        Membership.objects.get_or_create(
            user=agent, department=department, defaults={"role": MembershipRole.AGENT}
        )
        seed_demo_saved_replies()

        root = f"http://{settings.FAKE_PLATFORM_HOST}:{settings.FAKE_PLATFORM_PORT}"
        names = []
        for platform in demo_platforms():
            settings_, credentials = platform.channel(root + platform.prefix)
            name = f"{platform.title} (demo)"
            self._demo_channel(platform.platform, name, settings_, credentials, department)
            names.append(name)
        mail = demo_mail_channel(
            settings.FAKE_PLATFORM_HOST, settings.FAKE_MAIL_IMAP_PORT, settings.FAKE_MAIL_SMTP_PORT
        )
        self._demo_channel(Platform.EMAIL, "Support mailbox (demo)", *mail, department)
        names.append("Support mailbox (demo)")
        self.stdout.write(
            self.style.SUCCESS(
                "Demo workspace ready.\n"
                f"  Log in at http://127.0.0.1:8000/ as  admin / {DEMO_PASSWORD}  (admin)\n"
                f"                                   or  agent / {DEMO_PASSWORD}  (agent)\n"
                f"  Channels: {', '.join(names)}\n"
                f"  Fake platforms (create items, inject faults, see replies): {root}/"
            )
        )
