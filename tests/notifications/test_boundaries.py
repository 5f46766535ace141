"""Dependencies point one way: ccb and deployments call notifications, never the reverse."""

import ast
from pathlib import Path

import notifications


def test_notifications_imports_neither_ccb_nor_deployments():
    offenders = []
    for path in Path(notifications.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"ccb", "deployments"}]
    assert offenders == []
