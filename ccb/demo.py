"""Demo data: the personas, a Production CCB, services and a dozen changes across the lifecycle.

Everything is written through the services, so the demo's audit chain is real. Running it again
finds what exists and changes nothing.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ccb import scheduling, services
from ccb.choices import BoardRole, ChangeType, Criticality, Status
from ccb.models import Board, ChangeRequest, FreezeWindow, MaintenanceWindow, Service, StandardChangeTemplate

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
    # Open around the clock so a new user can deploy from the browser the moment the demo is up.
    # Each occurrence lasts two days, so any timeline shorter than a day fits inside one of them.
    ("Around the clock (demo)", ["feature-flags", "fraud-model"], "UTC", "2026-01-01T00:00", 2880, "FREQ=DAILY"),
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


class RunbookProvider(Protocol):
    """Where the demo's runbooks come from: the execution layer writes and approves them."""

    def version(self, *, key: str, board: Board, users: dict[str, User]) -> int:
        """The id of the approved version of the demo runbook ``key`` (canary, mobile, cert)."""

    def deploy(self, *, change: ChangeRequest, users: dict[str, User]) -> None:
        """Run the scheduled change's runbook to its end, as its implementer and the team would."""


class Seeder:
    def __init__(self, password: str, runbooks: RunbookProvider | None = None):
        self.password = password
        self.runbooks = runbooks
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

    def _runbooks(self) -> None:
        if self.runbooks is None:
            raise RuntimeError("The demo needs the execution layer's runbooks (deployments' seed_demo command).")
        self.canary, self.mobile, self.cert = (
            self.runbooks.version(key=key, board=self.board, users=self.users) for key in ("canary", "mobile", "cert")
        )
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

    def _ready_to_deploy(self) -> None:
        """An approved canary booked in the around-the-clock window from now: frank can start it at once.
        Seeding again books it again from now if its slot has passed."""
        title = "Canary the fraud model v3 (ready to deploy)"
        change, new = self._submitted(title, svc="fraud-model", implementer="frank")
        if new:
            self._vote(change, ("bob", "approve"), ("carol", "approve"))
        change.refresh_from_db()
        if change.status in (Status.APPROVED, Status.APPROVED_WITH_CONDITIONS) or (
            change.status == Status.SCHEDULED and change.planned_end and change.planned_end <= timezone.now()
        ):
            start = timezone.now() + timedelta(seconds=1)
            services.change_request_schedule(change_id=change.pk, actor=self.users["frank"], planned_start=start)

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
        change, new = self._submitted("Enable AppConfig flag for smart retries", svc="feature-flags", runbook=self.cert)
        if new:
            self._vote(change, ("carol", "approve"), ("dave", "approve"))
            start = timezone.now() + timedelta(seconds=1)  # in the around-the-clock window, a moment from now
            services.change_request_schedule(change_id=change.pk, actor=u["frank"], planned_start=start)
            self.runbooks.deploy(
                change=ChangeRequest.objects.get(pk=change.pk), users=u
            )  # the engine runs it, gates answered by mia
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
        self._ready_to_deploy()  # last: the flag change above runs in the same window and must be done first


def seed(password: str | None = None, *, runbooks: RunbookProvider | None = None) -> list[tuple[str, str]]:
    Seeder(password or settings.CCB_DEMO_PASSWORD, runbooks=runbooks).run()
    return [(name, role) for name, _, role in PERSONAS] + [("admin", "administrator (Django admin)")]
