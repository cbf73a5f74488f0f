"""Author search uses icontains, which Django writes as UPPER(column) LIKE UPPER(pattern) on
PostgreSQL: the trigram indexes must be on UPPER(column) for it to use them (PostgreSQL only)."""

from django.db import migrations

FORWARD = """
DROP INDEX IF EXISTS contact_name_trgm_idx;
DROP INDEX IF EXISTS contact_handle_trgm_idx;
CREATE INDEX contact_name_upper_trgm_idx ON inbox_contact
  USING gin ((UPPER(display_name::text)) gin_trgm_ops);
CREATE INDEX contact_handle_upper_trgm_idx ON inbox_contact
  USING gin ((UPPER(handle::text)) gin_trgm_ops);
"""

BACKWARD = """
DROP INDEX IF EXISTS contact_name_upper_trgm_idx;
DROP INDEX IF EXISTS contact_handle_upper_trgm_idx;
CREATE INDEX contact_name_trgm_idx ON inbox_contact USING gin (display_name gin_trgm_ops);
CREATE INDEX contact_handle_trgm_idx ON inbox_contact USING gin (handle gin_trgm_ops);
"""


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("inbox", "0007_open_work_index")]

    operations = [migrations.RunPython(forward, backward)]
