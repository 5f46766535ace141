"""Dependencies point one way: deployments uses ccb; ccb reaches execution only through the hooks
deployments registers (ccb.execution), never by importing it, and its migrations never depend on it."""

import ast
from pathlib import Path

from django.db.migrations.loader import MigrationLoader

import ccb


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def test_ccb_never_imports_deployments():
    root = Path(ccb.__file__).parent
    offenders = [
        f"{path.relative_to(root)}: {name}"
        for path in root.rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] == "deployments"
    ]
    assert offenders == []


def test_ccb_migrations_depend_on_no_migration_of_deployments(db):
    loader = MigrationLoader(None, ignore_no_migrations=True)
    offenders = [
        f"{key[1]} depends on {dep}"
        for key, migration in loader.disk_migrations.items()
        if key[0] == "ccb"
        for dep in migration.dependencies
        if dep[0] == "deployments"
    ]
    assert offenders == []
