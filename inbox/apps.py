from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        # Imported for their receivers: Membership and user changes refresh the live groups;
        # logging in and out sets the agent's availability.
        from inbox import assignment, signals  # noqa: F401
