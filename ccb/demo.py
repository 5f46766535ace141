"""Demo data: the personas, a Production CCB, services and a dozen changes across the lifecycle.

Everything is written through the services, so the demo's audit chain is real. Running it again
finds what exists and changes nothing.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ccb import scheduling, services
from ccb.choices import BoardRole, ChangeType, Criticality, Status
from ccb.models import Board, ChangeRequest, FreezeWindow, MaintenanceWindow, Service, StandardChangeTemplate
from deployments import services as runbooks
from deployments.models import Runbook

User = get_user_model()

PERSONAS = [
    ("alice", "Alice Requester", "requester"),
    ("bob", "Bob Member", "board member"),
    ("carol", "Carol Member", "board member"),
    ("dave", "Dave Member", "board member"),
    ("erin", "Erin Chair", "board chair (CTO)"),
    ("frank", "Frank DevSecOps", "implementer (DevSecOps)"),
    ("mia", "Mia Mobile", "implementer (mobile lead)"),
    ("quinn", "Quinn QA", "verifier (QA lead)"),
    ("grace", "Grace Auditor", "auditor"),
]
ROLES = [
    ("bob", BoardRole.MEMBER),
    ("carol", BoardRole.MEMBER),
    ("dave", BoardRole.MEMBER),
    ("erin", BoardRole.CHAIR),
    ("frank", BoardRole.IMPLEMENTER),
    ("mia", BoardRole.IMPLEMENTER),
    ("quinn", BoardRole.VERIFIER),
    ("grace", BoardRole.AUDITOR),
]
SERVICES = [
    ("API Gateway", "api-gateway", Criticality.TIER_1, ["auth-service", "fraud-model"]),
    ("Auth Service", "auth-service", Criticality.TIER_1, ["customer-db"]),
    ("Payments", "payments", Criticality.TIER_1, ["customer-db", "auth-service"]),
    ("Fraud Model (Lambda)", "fraud-model", Criticality.TIER_2, ["feature-flags"]),
    ("Customer Database", "customer-db", Criticality.TIER_1, []),
    ("Feature Flags (AppConfig)", "feature-flags", Criticality.TIER_2, []),
    ("Mobile App", "mobile-app", Criticality.TIER_2, ["api-gateway", "feature-flags"]),
]
# Weekly production windows: (name, services, zone, first start as local wall-clock time, minutes, RRULE).
WINDOWS = [
    (
        "Tuesday and Thursday nights",
        ["api-gateway", "auth-service", "payments", "customer-db"],
        "Europe/London",
        "2026-01-06T22:00",
        240,
        "FREQ=WEEKLY;BYDAY=TU,TH",
    ),
    (
        "Weeknight releases",
        ["fraud-model", "feature-flags"],
        "Europe/London",
        "2026-01-05T20:00",
        180,
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH",
    ),
    ("Wednesday store releases", ["mobile-app"], "America/New_York", "2026-01-07T10:00", 480, "FREQ=WEEKLY;BYDAY=WE"),
]
CANARY_RUNBOOK = """\
stages:
  - name: Deploy infrastructure
    steps:
      - {name: Update CloudFormation stack, type: cloudformation_update, timeout_seconds: 900,
         params: {stack: fraud-model}, rollback: {type: cloudformation_rollback}}
  - name: Canary
    steps:
      - {name: Shift 10% to the new alias, type: lambda_canary, timeout_seconds: 120, params: {weight: 10}}
      - {name: Bake with alarms, type: cloudwatch_alarm_gate, timeout_seconds: 600,
         params: {alarms: [fraud-model-errors, fraud-model-latency]}}
    gate: {role: implementer, question: "Canary healthy?"}
  - name: Full rollout
    steps:
      - {name: Shift 100%, type: lambda_canary, timeout_seconds: 120, params: {weight: 100}}
      - {name: Smoke test, type: http_smoke_test, timeout_seconds: 120, params: {url: /healthz}}
"""
MOBILE_RUNBOOK = """\
stages:
  - name: Beta
    steps:
      - {name: Submit to TestFlight and Play beta, type: mobile_store_release, timeout_seconds: 3600}
    gate: {role: verifier, question: "Beta crash-free rate above 99.5%?"}
  - name: Staged rollout
    steps:
      - {name: Release to 10% of users, type: mobile_store_release, timeout_seconds: 600, params: {percent: 10}}
      - {name: Enable feature flag, type: feature_flag, timeout_seconds: 60, params: {flag: new-checkout}}
"""
CERT_RUNBOOK = """\
stages:
  - name: Rotate
    steps:
      - {name: Import the renewed certificate, type: cloudformation_update, timeout_seconds: 300}
      - {name: Smoke test, type: http_smoke_test, timeout_seconds: 60}
"""
# The smallest well-formed PDF: the demo's signed validation report.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

FULL_ANSWERS = {
    "customer_facing": "yes",
    "downtime": "none",
    "data_change": "no",
    "blast_radius": "one_service",
    "rollback_tested": "yes",
    "precedent": "similar",
    "security_sensitive": "no",
}


def _user(username: str, full_name: str, password: str) -> User:
    first, last = full_name.split(" ", 1)
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"}
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _packet(**overrides) -> dict:
    packet = {
        "summary": "Roll out the change described in the title behind a canary.",
        "justification": "Requested by the product team; see the linked validation report.",
        "users_affected": 12000,
        "expected_downtime_minutes": 0,
        "impact_dependencies": "API Gateway routes to the service; no schema change.",
        "risk_answers": dict(FULL_ANSWERS),
        "roi_cost": Decimal("4200.00"),
        "roi_benefit": Decimal("38000.00"),
        "roi_payback_months": 2,
        "rollback_steps": "Shift the alias back to the previous version; verify alarms.",
        "rollback_minutes": 10,
        "rollback_tested_on": date(2026, 11, 2),
        "notification_audience": "affected",
        "notification_subject": "Planned improvement to fraud screening",
        "notification_body": "We will improve fraud screening during the maintenance window. No downtime expected.",
        "open_issues_resolved": True,
        "test_environments_validated": True,
        "test_environments": "staging, perf",
        "estimated_duration_minutes": 45,
    }
    packet.update(overrides)
    return packet


class Seeder:
    def __init__(self, password: str):
        self.password = password
        self.now = timezone.now()

    def run(self) -> None:
        self.users = {name: _user(name, full, self.password) for name, full, _ in PERSONAS}
        admin = _user("admin", "Site Admin", self.password)
        if not admin.is_superuser:
            admin.is_staff = admin.is_superuser = True
            admin.save(update_fields=["is_staff", "is_superuser"])
        self.admin = admin
        self.board = Board.objects.filter(slug="production-ccb").first() or services.board_save(
            actor=admin,
            data={
                "name": "Production CCB",
                "slug": "production-ccb",
                "min_approvals": 2,
                "chair_required_from_risk": "high",
                "description": "Reviews every change to production.",
            },
        )
        for username, role in ROLES:
            services.board_role_grant(actor=admin, board=self.board, user=self.users[username], role=role)
        services.site_auditor_grant(actor=admin, user=self.users["grace"])
        self._services()
        self._windows()
        self._runbooks()
        self._changes()

    def _services(self) -> None:
        self.services = {}
        for name, slug, tier, _ in SERVICES:
            self.services[slug] = Service.objects.filter(slug=slug).first() or services.service_save(
                actor=self.admin,
                data={
                    "name": name,
                    "slug": slug,
                    "board": self.board,
                    "criticality": tier,
                    "owner": self.users["frank"],
                    "environments": ["production", "staging"],
                },
            )
        for _, slug, _, deps in SERVICES:
            svc = self.services[slug]
            if deps and not svc.depends_on.exists():
                services.service_save(
                    actor=self.admin, data={}, instance=svc, depends_on=[self.services[d] for d in deps]
                )

    def _windows(self) -> None:
        for name, slugs, zone, first, minutes, rule in WINDOWS:
            for slug in slugs:
                svc = self.services[slug]
                if not MaintenanceWindow.objects.filter(service=svc, environment="production", name=name).exists():
                    services.maintenance_window_save(
                        actor=self.users["erin"],
                        data={
                            "service": svc,
                            "environment": "production",
                            "name": name,
                            "time_zone": zone,
                            "dtstart": datetime.fromisoformat(first),
                            "duration_minutes": minutes,
                            "rrule": rule,
                            "description": "Low-traffic hours agreed with the service owners.",
                        },
                    )

    def _book(self, change, *, after=None) -> None:
        """Schedule at the first slot that passes every rule, as the implementer would pick it."""
        slot = scheduling.free_slots(change, count=1, after=after)[0]
        services.change_request_schedule(change_id=change.pk, actor=self.users["frank"], planned_start=slot.start)

    def _runbook(self, name: str, author: str, approver: str, source: str):
        existing = Runbook.objects.filter(board=self.board, name=name).first()
        if existing:
            return existing.versions.order_by("-number").first()
        version = runbooks.runbook_create(
            actor=self.users[author], board=self.board, name=name, description=f"{name} (demo)", source_yaml=source
        )
        return runbooks.runbook_version_approve(actor=self.users[approver], version_id=version.pk)

    def _runbooks(self) -> None:
        self.canary = self._runbook("Fraud model canary", "alice", "frank", CANARY_RUNBOOK)
        self.mobile = self._runbook("Mobile staged release", "mia", "frank", MOBILE_RUNBOOK)
        self.cert = self._runbook("Rotate TLS certificate", "frank", "erin", CERT_RUNBOOK)
        self.template = StandardChangeTemplate.objects.filter(board=self.board).first() or services.template_save(
            actor=self.admin,
            services=[self.services["api-gateway"]],
            data={
                "board": self.board,
                "name": "Rotate the API gateway TLS certificate",
                "environment": "production",
                "runbook_version": self.cert,
                "max_risk": "medium",
                "description": "Routine renewal before expiry.",
                "packet_defaults": {
                    "summary": "Renew and rotate the gateway certificate.",
                    "justification": "The certificate expires within 30 days.",
                    "rollback_steps": "Re-import the previous certificate.",
                    "rollback_minutes": 5,
                },
            },
        )

    def _draft(
        self,
        title: str,
        requester: str = "alice",
        svc: str = "fraud-model",
        report: bool = True,
        implementer: str = "frank",
        runbook=None,
        change_type: str = ChangeType.NORMAL,
        **overrides,
    ):
        existing = ChangeRequest.objects.filter(title=title).first()
        if existing:
            return existing, False
        data = _packet(
            title=title,
            change_type=change_type,
            services=[self.services[svc]],
            implementer=self.users[implementer] if implementer else None,
            runbook_version=runbook or self.canary,
            **overrides,
        )
        change = services.change_request_create(actor=self.users[requester], board=self.board, data=data)
        if report:
            services.attachment_add(
                change_id=change.pk,
                actor=self.users[requester],
                kind="validation_report",
                upload=SimpleUploadedFile("validation-report.pdf", DEMO_PDF, content_type="application/pdf"),
                signed_by="Quinn QA",
                signed_on=date(2026, 11, 20),
            )
        return change, True

    def _submitted(self, title: str, **kw):
        change, new = self._draft(title, **kw)
        if new:
            services.change_request_submit(change_id=change.pk, actor=self.users[kw.get("requester", "alice")])
        return change, new

    def _vote(self, change, *votes):
        for who, decision, *rest in votes:
            services.vote_cast(
                change_id=change.pk,
                voter=self.users[who],
                decision=decision,
                comment=rest[0] if rest else "",
                conditions=rest[1] if len(rest) > 1 else [],
            )

    def _changes(self) -> None:
        u = self.users
        self._draft("Enable fraud model v3 canary")
        self._draft("Raise API gateway rate limits", svc="api-gateway")
        self._draft(
            "Move sessions to Redis 7",
            svc="auth-service",
            report=False,
            implementer=None,
            risk_answers={"downtime": "degraded"},
            roi_cost=None,
        )
        self._submitted("Upgrade auth-service to OAuth 2.1", svc="auth-service")
        change, new = self._submitted("Tune fraud model thresholds")
        if new:
            self._vote(change, ("bob", "approve"))
        change, new = self._submitted("Add a read replica for reporting", svc="customer-db")
        if new:
            self._vote(change, ("bob", "approve"), ("carol", "approve"))
            self._book(change, after=self.now + timedelta(days=10))
            change.refresh_from_db()
            if not FreezeWindow.objects.filter(name="Quarter-end close").exists():
                # Declared after the booking, so the demo shows a change flagged by a new freeze.
                services.freeze_save(
                    actor=self.admin,
                    services=[self.services["payments"], self.services["customer-db"]],
                    data={
                        "name": "Quarter-end close",
                        "board": self.board,
                        "environment": "production",
                        "reason": "Finance closes the quarter: no changes to the money paths.",
                        "start": change.planned_start - timedelta(days=1),
                        "end": change.planned_start + timedelta(days=2),
                    },
                )
        change, new = self._submitted(
            "New checkout flow (mobile 4.2)", svc="mobile-app", implementer="mia", runbook=self.mobile
        )
        if new:
            self._vote(
                change, ("bob", "approve", "", ["Crash-free rate above 99.5% in beta before 10%"]), ("dave", "approve")
            )
        change, new = self._submitted(
            "Drop legacy payments endpoint",
            svc="payments",
            risk_answers={**FULL_ANSWERS, "data_change": "irreversible"},
        )
        if new:
            self._vote(change, ("carol", "reject", "Clients still call it; publish the deprecation first."))
            services.change_request_decide(
                change_id=change.pk,
                actor=u["erin"],
                outcome="rejected",
                rationale="Deprecation notice needed before removal.",
            )
        change, new = self._submitted("Fraud model v2.9 hotfix rollout")
        if new:
            self._vote(change, ("bob", "approve"), ("dave", "approve"))
            self._book(change, after=self.now + timedelta(days=3))
        change, new = self._submitted("Enable AppConfig flag for smart retries", svc="feature-flags")
        if new:
            self._vote(change, ("carol", "approve"), ("dave", "approve"))
            self._book(change)
            services.change_request_start_implementation(change_id=change.pk, actor=u["frank"])
            services.change_request_finish_implementation(
                change_id=change.pk, actor=u["frank"], outcome=Status.COMPLETED, notes="All stages green."
            )
            services.change_request_close(
                change_id=change.pk,
                actor=u["quinn"],
                review="Smooth; no incidents.",
                exit_criteria={"smoke_tests_passed": True, "monitoring_normal": True, "notifications_sent": True},
            )
        change, new = self._submitted(
            "Emergency: block credential-stuffing IP range",
            svc="api-gateway",
            change_type=ChangeType.EMERGENCY,
            report=False,
        )
        if new:
            self._vote(change, ("erin", "approve"), ("bob", "approve"))
        change, new = self._draft("Withdrawn: resize payments cluster", svc="payments")
        if new:
            services.change_request_withdraw(change_id=change.pk, actor=u["alice"], reason="Capacity is fine.")
        if not ChangeRequest.objects.filter(template=self.template).exists():
            std = services.change_request_create_from_template(
                actor=u["frank"],
                template=self.template,
                data={"title": "Rotate gateway certificate (Dec)", "implementer": u["mia"]},
            )
            services.change_request_submit(change_id=std.pk, actor=u["frank"])


def seed(password: str | None = None) -> list[tuple[str, str]]:
    Seeder(password or settings.CCB_DEMO_PASSWORD).run()
    return [(name, role) for name, _, role in PERSONAS] + [("admin", "administrator (Django admin)")]
