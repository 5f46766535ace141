from django.db import migrations, models

from ccb import audit_sql


def sqlite_triggers_off(apps, schema_editor):
    # SQLite adds a constraint by rebuilding the table, which drops its triggers and would trip them
    # while copying; they come back right after. PostgreSQL adds it in place, triggers untouched.
    audit_sql.run(schema_editor, {"sqlite": audit_sql.SQLITE_REMOVE})


def sqlite_triggers_on(apps, schema_editor):
    audit_sql.run(schema_editor, {"sqlite": audit_sql.SQLITE_INSTALL})


class Migration(migrations.Migration):
    dependencies = [("ccb", "0005_scheduling_windows_freezes")]

    operations = [
        migrations.RunPython(sqlite_triggers_off, sqlite_triggers_on),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.CheckConstraint(condition=models.Q(("seq__gte", 1)), name="audit_seq_starts_at_one"),
        ),
        migrations.RunPython(sqlite_triggers_on, sqlite_triggers_off),
    ]
