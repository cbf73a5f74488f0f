"""Create (or refresh) the demo workspace: users, a department, and a Mastodon channel that
points at the built-in fake server. Safe to run again."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from channels_integrations.models import ChannelAccount, ChannelStatus, Platform
from inbox.models import Department, Membership, MembershipRole

DEMO_PASSWORD = "inbox-demo"  # noqa: S105  (printed on purpose: it is a local demo)
DEMO_TOKEN = "demo-token"  # noqa: S105  (the fake server's accepted token)


class Command(BaseCommand):
    help = (
        "Create the demo workspace (admin, agent, department, Mastodon channel on the fake server)."
    )

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

        base_url = f"http://{settings.FAKE_PLATFORM_HOST}:{settings.FAKE_PLATFORM_PORT}"
        channel = ChannelAccount.objects.filter(
            platform=Platform.MASTODON, name="Mastodon @brand (demo)"
        ).first()
        if channel is None:
            channel = ChannelAccount(platform=Platform.MASTODON, name="Mastodon @brand (demo)")
        channel.settings = {"base_url": base_url}
        channel.set_credentials({"access_token": DEMO_TOKEN})
        channel.status = ChannelStatus.ACTIVE
        channel.poll_interval_seconds = 3
        channel.save()
        department.channel_accounts.add(channel)

        self.stdout.write(
            self.style.SUCCESS(
                "Demo workspace ready.\n"
                f"  Log in at http://127.0.0.1:8000/ as  admin / {DEMO_PASSWORD}  (admin)\n"
                f"                                   or  agent / {DEMO_PASSWORD}  (agent)\n"
                f"  Fake Mastodon (create mentions, see replies): {base_url}/__admin/"
            )
        )
