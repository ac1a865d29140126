"""Trigram index for the lead list's text search (PostgreSQL only; SQLite scans, which is fine there)."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS lead_search_trgm_idx ON leads_lead USING gin (search_text gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS lead_search_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("leads", "0005_lead_search_text")]

    operations = [migrations.RunPython(create, drop)]
