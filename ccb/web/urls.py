from django.urls import path

from . import actions, calendar, views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("changes/", views.change_list, name="change-list"),
    path("changes/new/", actions.change_create, name="change-create"),
    path("changes/risk-preview/", actions.risk_preview, name="risk-preview"),
    path("changes/board-choices/", actions.packet_board_choices, name="packet-board-choices"),
    path("changes/<int:pk>/", views.change_detail, name="change-detail"),
    path("changes/<int:pk>/edit/", actions.change_edit, name="change-edit"),
    path("changes/<int:pk>/diff/", views.revision_diff, name="change-diff"),
    path("changes/<int:pk>/submit/", actions.change_submit, name="change-submit"),
    path("changes/<int:pk>/withdraw/", actions.change_withdraw, name="change-withdraw"),
    path("changes/<int:pk>/revise/", actions.change_revise, name="change-revise"),
    path("changes/<int:pk>/attach/", actions.change_attach, name="change-attach"),
    path("changes/<int:pk>/vote/", actions.change_vote, name="change-vote"),
    path("changes/<int:pk>/decide/", actions.change_decide, name="change-decide"),
    path("changes/<int:pk>/conditions/<int:cid>/satisfy/", actions.condition_satisfy, name="change-condition-satisfy"),
    path("boards/<slug:slug>/agenda/", views.agenda, name="agenda"),
    path("changes/<int:pk>/schedule/", calendar.change_schedule, name="change-schedule"),
    path("calendar/", calendar.calendar_view, name="calendar"),
    path("calendar/feed-address/", calendar.calendar_feed_token, name="calendar-feed-token"),
    path("calendar/windows/", calendar.windows_page, name="windows"),
    path("calendar/<str:kind>/<int:pk>/deactivate/", calendar.windows_deactivate, name="windows-deactivate"),
    path("audit/", views.audit_trail, name="audit"),
    path("audit/verify/", views.audit_verify, name="audit-verify"),
    path("audit/<int:seq>/", views.audit_event, name="audit-event"),
]
