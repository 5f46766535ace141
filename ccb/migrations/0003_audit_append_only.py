from django.db import migrations

from ccb import audit_sql


def install(apps, schema_editor):
    audit_sql.run(schema_editor, audit_sql.INSTALL)


def remove(apps, schema_editor):
    audit_sql.run(schema_editor, audit_sql.REMOVE)


class Migration(migrations.Migration):
    dependencies = [("ccb", "0002_initial")]
    operations = [migrations.RunPython(install, remove)]
