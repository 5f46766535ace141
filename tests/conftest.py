"""Shared fixtures: the personas (who start with no rights but their role), a board, services,
an approved runbook, and a packet that meets every entry criterion."""

import os
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccb import audit_sql, services
from ccb.choices import BoardRole
from deployments import services as runbook_services

from .factories import UserFactory

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
# A typed runbook whose steps need no cloud: ten minutes of planned timeline and one go/no-go.
RUNBOOK_YAML = """\
schema: 2
description: Canary the fraud model.
stages:
  - name: Canary
    steps:
      - {name: Bake at 10%, type: wait, timeout_seconds: 300, params: {seconds: 300, reason: at 10%}}
    gate: {role: implementer, question: "Healthy?"}
  - name: Full
    steps:
      - {name: Bake at 100%, type: wait, timeout_seconds: 300, params: {seconds: 300, reason: at 100%}}
"""
ANSWERS = {
    "customer_facing": "no",
    "downtime": "none",
    "data_change": "no",
    "blast_radius": "one_service",
    "rollback_tested": "yes",
    "precedent": "routine",
    "security_sensitive": "no",
}


def pytest_configure(config):
    # Tests that need PostgreSQL must never skip in CI.
    if os.environ.get("CI") and "postgres" not in os.environ.get("DATABASE_URL", ""):
        raise pytest.UsageError("CI must run the suite on PostgreSQL: set DATABASE_URL.")


def pytest_collection_modifyitems(config, items):
    on_postgres = "postgres" in os.environ.get("DATABASE_URL", "")
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… (CI always does)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _flush_past_audit_triggers():
    """Transactional tests end with a flush (TRUNCATE or DELETE), which the audit triggers refuse
    by design. Only the test harness lifts them, for the flush alone."""
    from django.db.backends.postgresql import base as pg_base
    from django.db.backends.sqlite3 import base as lite_base

    PgOps, LiteOps = pg_base.DatabaseWrapper.ops_class, lite_base.DatabaseWrapper.ops_class

    pg_flush, lite_flush = PgOps.sql_flush, LiteOps.sql_flush

    def pg_sql_flush(self, *args, **kwargs):
        sql = pg_flush(self, *args, **kwargs)
        if not sql:
            return sql
        return ["SET session_replication_role = replica;", *sql, "SET session_replication_role = DEFAULT;"]

    def lite_sql_flush(self, *args, **kwargs):
        sql = lite_flush(self, *args, **kwargs)
        return [*audit_sql.SQLITE_REMOVE, *sql, *audit_sql.SQLITE_INSTALL] if sql else sql

    PgOps.sql_flush, LiteOps.sql_flush = pg_sql_flush, lite_sql_flush
    yield
    PgOps.sql_flush, LiteOps.sql_flush = pg_flush, lite_flush


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def people(db):
    return {
        name: UserFactory(username=name)
        for name in ("alice", "bob", "carol", "dave", "erin", "frank", "mia", "quinn", "grace", "oscar")
    }


@pytest.fixture
def board(db, admin_user, people):
    board = services.board_save(
        actor=admin_user,
        data={
            "name": "Production CCB",
            "slug": "production-ccb",
            "min_approvals": 2,
            "chair_required_from_risk": "high",
        },
    )
    for name, role in [
        ("bob", BoardRole.MEMBER),
        ("carol", BoardRole.MEMBER),
        ("dave", BoardRole.MEMBER),
        ("erin", BoardRole.CHAIR),
        ("frank", BoardRole.IMPLEMENTER),
        ("mia", BoardRole.IMPLEMENTER),
        ("quinn", BoardRole.VERIFIER),
        ("grace", BoardRole.AUDITOR),
    ]:
        services.board_role_grant(actor=admin_user, board=board, user=people[name], role=role)
    services.site_auditor_grant(actor=admin_user, user=people["grace"])
    return board


@pytest.fixture
def service_map(board, admin_user):
    db_svc = services.service_save(
        actor=admin_user, data={"name": "Customer DB", "slug": "customer-db", "board": board, "criticality": "tier2"}
    )
    api = services.service_save(
        actor=admin_user,
        data={"name": "API", "slug": "api", "board": board, "criticality": "tier2"},
        depends_on=[db_svc],
    )
    return {"customer-db": db_svc, "api": api}


@pytest.fixture
def runbook(board, people):
    version = runbook_services.runbook_create(
        actor=people["frank"], board=board, name="Canary", description="", source_yaml=RUNBOOK_YAML
    )
    return runbook_services.runbook_version_approve(actor=people["erin"], version_id=version.pk)


@pytest.fixture
def packet(service_map, runbook, people):
    return {
        "title": "Enable fraud model v3",
        "summary": "Canary the new model.",
        "justification": "Fewer false positives.",
        "services": [service_map["api"]],
        "environment": "production",
        "users_affected": 1000,
        "expected_downtime_minutes": 0,
        "impact_dependencies": "none",
        "risk_answers": dict(ANSWERS),
        "roi_cost": Decimal("100.00"),
        "roi_benefit": Decimal("1000.00"),
        "roi_payback_months": 1,
        "rollback_steps": "Shift the alias back.",
        "rollback_minutes": 5,
        "rollback_tested_on": date(2026, 11, 1),
        "open_issues_resolved": True,
        "test_environments_validated": True,
        "implementer": people["frank"],
        "runbook_version": runbook.pk,
    }


def pdf_upload(name="report.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@pytest.fixture
def make_change(board, packet, people):
    """A draft that meets every entry criterion, filed by alice unless told otherwise."""

    def make(requester="alice", report=True, **overrides):
        change = services.change_request_create(actor=people[requester], board=board, data={**packet, **overrides})
        if report:
            services.attachment_add(
                change_id=change.pk,
                actor=people[requester],
                upload=pdf_upload(),
                kind="validation_report",
                signed_by="Quinn QA",
                signed_on=date(2026, 11, 20),
            )
        return change

    return make


@pytest.fixture
def submitted(make_change, people):
    change = make_change()
    return services.change_request_submit(change_id=change.pk, actor=people["alice"])


@pytest.fixture
def api():
    """api(user) -> an APIClient authenticated with that user's token; api(None) is anonymous."""

    def make(user):
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


def on_postgres() -> bool:
    return connection.vendor == "postgresql"
