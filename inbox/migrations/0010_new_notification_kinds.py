"""Users whose preferences predate the SLA breach, approval and advice notifications get them
in the app, as new users do (their explicit choices for the older kinds stay)."""

from typing import Any

from django.db import migrations

NEW_KINDS = ["sla_breach", "approval_requested", "reply_reviewed", "consult_answered"]


def add_kinds(apps: Any, schema_editor: Any) -> None:
    preferences = apps.get_model("inbox", "AgentPreferences")
    for row in preferences.objects.all().only("id", "in_app_kinds"):
        kinds = list(row.in_app_kinds or [])
        missing = [kind for kind in NEW_KINDS if kind not in kinds]
        if missing:
            row.in_app_kinds = kinds + missing
            row.save(update_fields=["in_app_kinds"])


class Migration(migrations.Migration):
    dependencies = [("inbox", "0009_teams")]

    operations = [migrations.RunPython(add_kinds, migrations.RunPython.noop)]
