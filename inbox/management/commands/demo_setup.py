"""Create (or refresh) the demo workspace: users in every role, two departments with working
hours, routing rules, SLA policies, and one channel per platform aimed at the built-in fake
servers. Safe to run again."""

from datetime import date, time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from channels_integrations.fake_platforms import demo_mail_channel, demo_platforms
from channels_integrations.models import ChannelAccount, ChannelStatus, Platform
from inbox.composer import seed_demo_saved_replies
from inbox.demo_history import seed_demo_history
from inbox.models import (
    AssignmentStrategy,
    ConversationKind,
    Department,
    DepartmentHoliday,
    DepartmentHours,
    Membership,
    MembershipRole,
    Priority,
    RoutingRule,
    SlaPolicy,
)
from moderation.demo import seed_demo_moderation

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

    def _user(self, username: str, first_name: str, last_name: str) -> Any:
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"first_name": first_name, "last_name": last_name}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _office_hours(self, department: Department) -> None:
        """Monday to Friday 8:00 to 18:00 in Berlin, closed over Christmas and New Year."""
        for weekday in range(1, 6):
            DepartmentHours.objects.get_or_create(
                department=department, weekday=weekday, opens=time(8), closes=time(18)
            )
        for day, name in (
            (date(2026, 12, 24), "Christmas Eve"),
            (date(2026, 12, 25), "Christmas Day"),
            (date(2026, 12, 26), "Boxing Day"),
            (date(2027, 1, 1), "New Year's Day"),
        ):
            DepartmentHoliday.objects.get_or_create(department=department, date=day, name=name)

    def _demo_rules(self, billing: Department) -> None:
        """Routing and SLA examples an admin can open, change and test."""
        RoutingRule.objects.create(
            name="Invoices and cancellations go to Billing",
            position=1,
            keywords="Rechnung\ninvoice\nKündigung\ncancel my subscription\nrefund",
            set_department=billing,
        )
        RoutingRule.objects.create(
            name="E-mails from VIPs are urgent",
            position=2,
            kinds=[ConversationKind.EMAIL],
            author="vip",
            set_priority=Priority.URGENT,
            stop_processing=False,
        )
        SlaPolicy.objects.create(
            name="Urgent: first answer within 1 hour",
            position=1,
            priorities=[Priority.URGENT],
            first_response_minutes=60,
            next_response_minutes=60,
            warn_before_minutes=15,
        )
        SlaPolicy.objects.create(
            name="Standard: first answer within 24 hours",
            position=2,
            first_response_minutes=24 * 60,
            next_response_minutes=8 * 60,
            resolution_minutes=5 * 24 * 60,
            business_hours=False,
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

        lead = self._user("lead", "Lena", "Lang")
        trainee = self._user("trainee", "Tim", "Neumann")
        observer = self._user("observer", "Otto", "Weber")

        department, created = Department.objects.get_or_create(
            slug="community",
            defaults={"name": "Community", "assignment_strategy": AssignmentStrategy.ROUND_ROBIN},
        )
        billing, billing_created = Department.objects.get_or_create(
            slug="billing", defaults={"name": "Billing"}
        )
        for member, team, role, approval in (
            (admin, department, MembershipRole.LEAD, False),
            (lead, department, MembershipRole.LEAD, False),
            (agent, department, MembershipRole.AGENT, False),
            # Four-eyes for the newcomer: their replies wait for Lena's approval.
            (trainee, department, MembershipRole.AGENT, True),
            (observer, department, MembershipRole.OBSERVER, False),
            (lead, billing, MembershipRole.LEAD, False),
            (agent, billing, MembershipRole.AGENT, False),
        ):
            Membership.objects.get_or_create(
                user=member,
                department=team,
                defaults={"role": role, "requires_approval": approval},
            )
        if created:
            department.contact_person = lead
            department.save(update_fields=["contact_person"])
            self._office_hours(department)
        if billing_created:
            billing.contact_person = lead
            billing.save(update_fields=["contact_person"])
            self._office_hours(billing)
            self._demo_rules(billing)
        seed_demo_saved_replies()
        seed_demo_moderation(responsibles=[admin, lead])

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
        # Billing shares the mailbox and Facebook with Community: the routing rule sends invoices
        # there; everything else on Community's own channels is handed out round-robin.
        billing.channel_accounts.set(
            department.channel_accounts.filter(
                name__in=["Support mailbox (demo)", "Facebook (demo)"]
            )
        )
        # A month of past work, so the reports have something to show (once: it skips when
        # the history is there already).
        history = seed_demo_history()
        logins = "\n".join(
            f"    {username:<9} / {DEMO_PASSWORD}  ({role})"
            for username, role in (
                ("admin", "admin"),
                ("lead", "team lead, approves replies"),
                ("agent", "agent"),
                ("trainee", "agent whose replies need approval"),
                ("observer", "read-only"),
            )
        )
        self.stdout.write(
            self.style.SUCCESS(
                "Demo workspace ready.\n"
                f"  Log in at http://127.0.0.1:8000/ as one of:\n{logins}\n"
                f"  Channels: {', '.join(names)}\n"
                f"  History: {history} past conversations added (30 days, see /reports/)\n"
                f"  Fake platforms (create items, inject faults, see replies): {root}/\n"
                "  Simulate a shitstorm: .venv/bin/python manage.py simulate_storm "
                "--channel 'Facebook (demo)'"
            )
        )
