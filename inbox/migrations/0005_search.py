"""Full-text search (PostgreSQL only) and the new list keys for existing rows.

Message.search_vector holds the German and the English stems of the text, so that a search in
either language finds inflected forms ("Rechnungen" finds "Rechnung", "invoices" finds
"invoice"). A trigger keeps it, so every write path (ingest's execute_values, the ORM, the admin)
is covered without remembering to. Author names are searched by substring through trigram
indexes. SQLite (the embedded `make run`) has neither: search there falls back to icontains.
"""

from django.db import migrations
from django.db.models import F

FORWARD = """
CREATE OR REPLACE FUNCTION inbox_message_search_vector() RETURNS trigger AS $$
BEGIN
  NEW.search_vector :=
    to_tsvector('pg_catalog.german', coalesce(NEW.text, '')) ||
    to_tsvector('pg_catalog.english', coalesce(NEW.text, ''));
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER inbox_message_search_vector
BEFORE INSERT OR UPDATE OF text ON inbox_message
FOR EACH ROW EXECUTE FUNCTION inbox_message_search_vector();

UPDATE inbox_message SET search_vector =
  to_tsvector('pg_catalog.german', coalesce(text, '')) ||
  to_tsvector('pg_catalog.english', coalesce(text, ''));

CREATE INDEX message_search_idx ON inbox_message USING gin (search_vector);

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX contact_name_trgm_idx ON inbox_contact USING gin (display_name gin_trgm_ops);
CREATE INDEX contact_handle_trgm_idx ON inbox_contact USING gin (handle gin_trgm_ops);
"""

BACKWARD = """
DROP INDEX IF EXISTS contact_handle_trgm_idx;
DROP INDEX IF EXISTS contact_name_trgm_idx;
DROP INDEX IF EXISTS message_search_idx;
DROP TRIGGER IF EXISTS inbox_message_search_vector ON inbox_message;
DROP FUNCTION IF EXISTS inbox_message_search_vector();
"""


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)
    Conversation = apps.get_model("inbox", "Conversation")
    Conversation.objects.filter(last_message_direction="inbound").update(
        waiting_since=F("last_message_at")
    )
    Conversation.objects.filter(first_response_at__isnull=True).update(
        sla_due_at=F("first_response_due_at")
    )


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("inbox", "0004_workspace")]

    operations = [migrations.RunPython(forward, backward)]
