"""The admin manages boards, roles, services and templates through the services, so it is audited;
audit events are read-only there."""

from ccb.models import AuditEvent, Board, BoardMembership


def test_admin_pages_render(client, admin_user, board, service_map, runbook, submitted):
    client.force_login(admin_user)
    for url in (
        "/admin/",
        "/admin/ccb/board/",
        f"/admin/ccb/board/{board.pk}/change/",
        "/admin/ccb/board/add/",
        "/admin/ccb/service/",
        "/admin/ccb/service/add/",
        "/admin/ccb/standardchangetemplate/add/",
        "/admin/ccb/auditevent/",
        "/admin/ccb/auditevent/1/change/",
        "/admin/deployments/runbook/",
        "/admin/auth/user/",
        "/admin/ccb/maintenancewindow/",
        "/admin/ccb/freezewindow/",
        "/admin/notifications/outboxmessage/",
    ):
        assert client.get(url).status_code == 200, url


def test_creating_a_board_with_roles_in_admin_is_audited(client, admin_user, people):
    client.force_login(admin_user)
    before = AuditEvent.objects.count()
    response = client.post(
        "/admin/ccb/board/add/",
        {
            "name": "Mobile CAB",
            "slug": "mobile-cab",
            "description": "",
            "min_approvals": 1,
            "chair_required_from_risk": "high",
            "emergency_review_days": 5,
            "memberships-TOTAL_FORMS": 1,
            "memberships-INITIAL_FORMS": 0,
            "memberships-0-user": people["mia"].pk,
            "memberships-0-role": "chair",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    board = Board.objects.get(slug="mobile-cab")
    assert BoardMembership.objects.filter(board=board, user=people["mia"], role="chair").exists()
    assert people["mia"].has_perm("ccb.board_chair", board)
    actions = list(AuditEvent.objects.filter(seq__gt=before).values_list("action", flat=True))
    assert actions == ["board.created", "board.role_granted"]


def test_audit_events_cannot_be_changed_in_admin(client, admin_user, submitted):
    client.force_login(admin_user)
    event = AuditEvent.objects.get(seq=1)
    action = event.action
    response = client.post(f"/admin/ccb/auditevent/{event.pk}/change/", {"action": "forged"})
    assert response.status_code == 403
    assert client.post(f"/admin/ccb/auditevent/{event.pk}/delete/").status_code == 403
    event.refresh_from_db()
    assert event.action == action
