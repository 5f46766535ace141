"""Database triggers that make the audit table append-only, per vendor."""

TABLE = "ccb_auditevent"

POSTGRESQL_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION ccb_audit_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit events are append-only: % on {TABLE} refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql;
    """,
    f"CREATE TRIGGER ccb_audit_no_update BEFORE UPDATE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION ccb_audit_refuse_change();",
    f"CREATE TRIGGER ccb_audit_no_delete BEFORE DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION ccb_audit_refuse_change();",
    f"CREATE TRIGGER ccb_audit_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION ccb_audit_refuse_change();",
]
POSTGRESQL_REMOVE = [
    f"DROP TRIGGER IF EXISTS ccb_audit_no_update ON {TABLE};",
    f"DROP TRIGGER IF EXISTS ccb_audit_no_delete ON {TABLE};",
    f"DROP TRIGGER IF EXISTS ccb_audit_no_truncate ON {TABLE};",
    "DROP FUNCTION IF EXISTS ccb_audit_refuse_change();",
]

# SQLite has no TRUNCATE; its DELETE without WHERE fires the row trigger and is refused too.
SQLITE_INSTALL = [
    f"CREATE TRIGGER IF NOT EXISTS ccb_audit_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;",
    f"CREATE TRIGGER IF NOT EXISTS ccb_audit_no_delete BEFORE DELETE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS ccb_audit_no_update;",
    "DROP TRIGGER IF EXISTS ccb_audit_no_delete;",
]

INSTALL = {"postgresql": POSTGRESQL_INSTALL, "sqlite": SQLITE_INSTALL}
REMOVE = {"postgresql": POSTGRESQL_REMOVE, "sqlite": SQLITE_REMOVE}


def run(schema_editor, statements: dict[str, list[str]]) -> None:
    for sql in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql, params=None)
