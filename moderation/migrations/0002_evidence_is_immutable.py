"""Moderation decisions are evidence: on PostgreSQL the database itself refuses to change or
delete them (the model refuses too, on every database). The one change allowed is a
reference set to NULL because the row it points to was deleted. A deliberate purge (a court order, a
retention policy) has to drop the trigger in a migration of its own, visibly."""

from typing import Any

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION moderation_decision_is_immutable() RETURNS trigger AS $$
DECLARE
    candidate moderation_moderationdecision%ROWTYPE;
BEGIN
    -- The one change allowed: a reference cleared because what it points to was deleted
    -- (the decision keeps its own copy of the text, author, channel and rule name).
    IF TG_OP = 'UPDATE' THEN
        candidate := NEW;
        IF NEW.message_id IS NULL THEN candidate.message_id := OLD.message_id; END IF;
        IF NEW.channel_account_id IS NULL THEN
            candidate.channel_account_id := OLD.channel_account_id;
        END IF;
        IF NEW.person_id IS NULL THEN candidate.person_id := OLD.person_id; END IF;
        IF NEW.rule_id IS NULL THEN candidate.rule_id := OLD.rule_id; END IF;
        IF NEW.actor_id IS NULL THEN candidate.actor_id := OLD.actor_id; END IF;
        IF candidate IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'moderation decisions are evidence: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER moderation_decision_immutable
    BEFORE UPDATE OR DELETE ON moderation_moderationdecision
    FOR EACH ROW EXECUTE FUNCTION moderation_decision_is_immutable();
"""

DROP = """
DROP TRIGGER IF EXISTS moderation_decision_immutable ON moderation_moderationdecision;
DROP FUNCTION IF EXISTS moderation_decision_is_immutable();
"""


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("moderation", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
