"""The v1 API. Views parse input, call one service or selector, and present the result."""

from django.http import FileResponse, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from ccb import audit, ical, recurrence, scheduling, selectors, services
from ccb.api import serializers as s
from ccb.choices import Status
from ccb.exceptions import PacketInvalid
from ccb.filters import (
    AuditEventFilter,
    ChangeRequestFilter,
    FreezeWindowFilter,
    MaintenanceWindowFilter,
    ServiceFilter,
    TemplateFilter,
)
from ccb.models import AuditEvent, ChangeRequest, FreezeWindow, MaintenanceWindow
from ccb.services.uploads import ALLOWED_TYPES, download_name


def _valid(serializer_class, request, **kwargs):
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _filters(view):
    """The query string, for the selector to filter a list by; detail routes are not filtered."""
    return view.request.query_params if view.action == "list" else None


TZ_PARAMETER = OpenApiParameter(
    "tz",
    str,
    enum=s.ZONES,
    description="Show times (and read times given without an offset) in this IANA zone, "
    "e.g. Europe/Berlin. Default: the zone the browser reported, else UTC.",
)


class ViewerTimeZoneMixin:
    """Times are stored in UTC and shown in the viewer's zone: ``?tz=`` names it for API clients."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        name = request.query_params.get("tz")
        if name:
            try:
                zone = recurrence.zone(name)
            except recurrence.RecurrenceError as exc:
                raise ValidationError({"tz": [str(exc)]}) from None
            self._zone_before = timezone.get_current_timezone()
            timezone.activate(zone)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if hasattr(self, "_zone_before"):
            timezone.activate(self._zone_before)
        return response


class BoardViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.BoardSerializer
    search_fields = ["name", "description"]
    ordering_fields = ["name"]

    def get_queryset(self):
        return selectors.board_list(user=self.request.user).prefetch_related("memberships__user")

    @extend_schema(request=s.BoardWriteSerializer, responses=s.BoardSerializer)
    def create(self, request):
        board = services.board_save(actor=request.user, data=_valid(s.BoardWriteSerializer, request))
        return Response(s.BoardSerializer(board).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.BoardWriteSerializer, responses=s.BoardSerializer)
    def partial_update(self, request, pk=None):
        board = self.get_object()
        data = _valid(s.BoardWriteSerializer, request, instance=board, partial=True)
        board = services.board_save(actor=request.user, data=data, board=board)
        return Response(s.BoardSerializer(board).data)


class ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ServiceSerializer
    search_fields = ["name", "slug", "description"]
    filterset_class = ServiceFilter

    def get_queryset(self):
        return selectors.service_list(user=self.request.user, filters=_filters(self))

    def create(self, request):
        data = dict(_valid(s.ServiceSerializer, request))
        depends_on = data.pop("depends_on", [])
        svc = services.service_save(actor=request.user, data=data, depends_on=depends_on)
        return Response(s.ServiceSerializer(svc).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        svc = self.get_object()
        data = dict(_valid(s.ServiceSerializer, request, instance=svc, partial=True))
        depends_on = data.pop("depends_on", None)
        svc = services.service_save(actor=request.user, data=data, instance=svc, depends_on=depends_on)
        return Response(s.ServiceSerializer(svc).data)


class TemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.TemplateSerializer
    filterset_class = TemplateFilter
    search_fields = ["name", "description"]

    def get_queryset(self):
        return selectors.template_list(user=self.request.user, filters=_filters(self))

    def create(self, request):
        data = dict(_valid(s.TemplateSerializer, request))
        svcs = data.pop("services", [])
        template = services.template_save(actor=request.user, data=data, services=svcs)
        return Response(s.TemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        template = self.get_object()
        data = dict(_valid(s.TemplateSerializer, request, instance=template, partial=True))
        svcs = data.pop("services", None)
        template = services.template_save(actor=request.user, data=data, instance=template, services=svcs)
        return Response(s.TemplateSerializer(template).data)


LIST_COLUMNS = (
    "id",
    "title",
    "change_type",
    "status",
    "risk_level",
    "environment",
    "planned_start",
    "planned_end",
    "schedule_problems",
    "submitted_at",
    "created_at",
    "updated_at",
    "board_id",
    "requester__username",
    "implementer__username",
)


@extend_schema_view(list=extend_schema(parameters=[TZ_PARAMETER]), retrieve=extend_schema(parameters=[TZ_PARAMETER]))
class ChangeRequestViewSet(ViewerTimeZoneMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    filterset_class = ChangeRequestFilter
    search_fields = ["title", "summary", "justification"]
    ordering_fields = ["created_at", "updated_at", "submitted_at", "planned_start", "risk_level", "status", "title"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ChangeRequest.objects.none()
        changes = selectors.change_request_list(user=self.request.user, filters=_filters(self))
        if self.action == "list":  # the list shows a summary: leave the long texts and user rows behind
            changes = changes.select_related(None).select_related("requester", "implementer").only(*LIST_COLUMNS)
        return changes

    def get_serializer_class(self):
        return s.ChangeListSerializer

    def get_object(self):
        return selectors.change_request_get(user=self.request.user, pk=self.kwargs["pk"])

    def _detail(self, change, code=status.HTTP_200_OK):
        change = selectors.change_request_get(user=self.request.user, pk=change.pk)
        return Response(s.ChangeDetailSerializer(change).data, status=code)

    @extend_schema(request=s.ChangeCreateSerializer, responses={201: s.ChangeDetailSerializer})
    def create(self, request):
        data = dict(_valid(s.ChangeCreateSerializer, request))
        template = data.pop("template", None)
        if template is not None:
            change = services.change_request_create_from_template(actor=request.user, template=template, data=data)
        else:
            change = services.change_request_create(actor=request.user, board=data.pop("board"), data=data)
        return self._detail(change, status.HTTP_201_CREATED)

    @extend_schema(responses=s.ChangeDetailSerializer)
    def retrieve(self, request, pk=None):
        return self._detail(self.get_object())

    @extend_schema(request=s.ChangeWriteSerializer, responses=s.ChangeDetailSerializer)
    def partial_update(self, request, pk=None):
        change = self.get_object()
        data = dict(_valid(s.ChangeWriteSerializer, request, partial=True))
        if "board" in data or "template" in data:
            raise PacketInvalid({"board": ["A change stays with the board and template it was filed under."]})
        return self._detail(services.change_request_update(change_id=change.pk, actor=request.user, data=data))

    @extend_schema(request=None, responses=s.ChangeDetailSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        change = self.get_object()
        return self._detail(services.change_request_submit(change_id=change.pk, actor=request.user))

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["get"], url_path="entry-criteria")
    def entry_criteria(self, request, pk=None):
        change = self.get_object()
        missing = selectors.entry_criteria(change=change)
        return Response({"ready": not missing, "missing": missing})

    @extend_schema(request=None, responses=s.ChangeDetailSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        change = self.get_object()
        return self._detail(services.change_request_start_review(change_id=change.pk, actor=request.user))

    @extend_schema(request=s.ReasonInputSerializer, responses=s.ChangeDetailSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        change = self.get_object()
        data = _valid(s.ReasonInputSerializer, request)
        return self._detail(
            services.change_request_withdraw(change_id=change.pk, actor=request.user, reason=data["reason"])
        )

    @extend_schema(request=None, responses=s.ChangeDetailSerializer)
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        change = self.get_object()
        return self._detail(services.change_request_revise(change_id=change.pk, actor=request.user))

    @extend_schema(methods=["get"], responses=s.VoteSerializer(many=True))
    @extend_schema(methods=["post"], request=s.VoteInputSerializer, responses={201: s.VoteSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def votes(self, request, pk=None):
        change = self.get_object()
        if request.method == "GET":
            votes = change.votes.select_related("voter", "revision").order_by("created_at", "id")
            return Response(s.VoteSerializer(votes, many=True).data)
        data = _valid(s.VoteInputSerializer, request)
        vote = services.vote_cast(change_id=change.pk, voter=request.user, **data)
        vote = change.votes.select_related("voter", "revision").get(pk=vote.pk)
        return Response(s.VoteSerializer(vote).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["get"])
    def tally(self, request, pk=None):
        change = self.get_object()
        if change.current_revision_id is None:
            return Response({"detail": "The change has not been submitted."}, status=status.HTTP_409_CONFLICT)
        return Response(selectors.tally(change=change).as_dict())

    @extend_schema(request=s.DecideInputSerializer, responses={201: s.DecisionSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        change = self.get_object()
        data = _valid(s.DecideInputSerializer, request)
        decision = services.change_request_decide(change_id=change.pk, actor=request.user, **data)
        return Response(s.DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.DecisionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def decisions(self, request, pk=None):
        change = self.get_object()
        decisions = change.decisions.select_related("decided_by", "revision").prefetch_related(
            "conditions__satisfied_by"
        )
        return Response(s.DecisionSerializer(decisions, many=True).data)

    @extend_schema(request=s.EvidenceInputSerializer, responses=s.ConditionSerializer)
    @action(detail=True, methods=["post"], url_path=r"conditions/(?P<condition_id>[0-9]+)/satisfy")
    def satisfy_condition(self, request, pk=None, condition_id=None):
        change = self.get_object()
        condition = selectors.condition_get(user=request.user, change=change, pk=condition_id)
        data = _valid(s.EvidenceInputSerializer, request)
        condition = services.condition_satisfy(condition_id=condition.pk, actor=request.user, **data)
        return Response(s.ConditionSerializer(condition).data)

    @extend_schema(
        request=s.ScheduleInputSerializer,
        parameters=[TZ_PARAMETER],
        responses={
            200: s.ChangeDetailSerializer,
            409: OpenApiResponse(
                description="Illegal transition, or the rules refused the slot: `problems` names each "
                "window, freeze and conflicting change, `next_slots` offers starts "
                "that pass."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        change = self.get_object()
        data = _valid(s.ScheduleInputSerializer, request)
        try:
            change = services.change_request_schedule(change_id=change.pk, actor=request.user, **data)
        except scheduling.ScheduleRefused as exc:
            offered = scheduling.free_slots(selectors.change_request_get(user=request.user, pk=change.pk), count=3)
            return Response(
                {
                    "detail": exc.message,
                    "problems": [p.as_dict() for p in exc.problems],
                    "next_slots": s.SlotSerializer(offered, many=True).data,
                },
                status=status.HTTP_409_CONFLICT,
            )
        return self._detail(change)

    @extend_schema(parameters=[s.SlotsQuerySerializer, TZ_PARAMETER], responses={200: dict})
    @action(detail=True, methods=["get"])
    def slots(self, request, pk=None):
        """The next start times that pass every scheduling rule, one per free stretch."""
        change = self.get_object()
        # Its own parameters: the query string also carries ?tz= and whatever else a client adds.
        query = s.SlotsQuerySerializer(data={k: v for k, v in request.query_params.items() if k in ("count", "after")})
        query.is_valid(raise_exception=True)
        found = scheduling.free_slots(change, count=query.validated_data["count"], after=query.validated_data["after"])
        return Response(
            {
                "change": change.pk,
                "timeline_minutes": scheduling.timeline_minutes(change),
                "slots": s.SlotSerializer(found, many=True).data,
            }
        )

    @extend_schema(request=s.CloseInputSerializer, responses=s.ChangeDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        change = self.get_object()
        data = dict(_valid(s.CloseInputSerializer, request))
        review = data.pop("review")
        return self._detail(
            services.change_request_close(change_id=change.pk, actor=request.user, exit_criteria=data, review=review)
        )

    @extend_schema(request=s.NotesInputSerializer, responses=s.ChangeDetailSerializer)
    @action(detail=True, methods=["post"])
    def retrospective(self, request, pk=None):
        change = self.get_object()
        data = _valid(s.NotesInputSerializer, request)
        return self._detail(
            services.change_request_record_retrospective(change_id=change.pk, actor=request.user, notes=data["notes"])
        )

    @extend_schema(request=None, responses=s.RevisionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def revisions(self, request, pk=None):
        change = self.get_object()
        return Response(s.RevisionSerializer(change.revisions.select_related("created_by"), many=True).data)

    @extend_schema(methods=["get"], responses=s.AttachmentSerializer(many=True))
    @extend_schema(
        methods=["post"],
        request={"multipart/form-data": s.AttachmentInputSerializer},
        responses={201: s.AttachmentSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def attachments(self, request, pk=None):
        change = self.get_object()
        if request.method == "GET":
            return Response(s.AttachmentSerializer(change.attachments.select_related("uploaded_by"), many=True).data)
        data = _valid(s.AttachmentInputSerializer, request)
        attachment = services.attachment_add(
            change_id=change.pk,
            actor=request.user,
            upload=data["file"],
            kind=data["kind"],
            signed_by=data["signed_by"],
            signed_on=data["signed_on"],
        )
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={(200, media): OpenApiTypes.BINARY for media in ALLOWED_TYPES})
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]+)/download")
    def download(self, request, pk=None, attachment_id=None):
        change = self.get_object()
        attachment = change.attachments.filter(pk=attachment_id).first()
        if attachment is None:
            return Response({"detail": "No attachment with that id on this change."}, status=404)
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=download_name(attachment.original_name, attachment.content_type),
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


@extend_schema_view(
    retrieve=extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The event's seq.")]
    )
)
class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ["seq", "at"]
    ordering = ["-seq"]
    search_fields = ["action", "actor_name", "data"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return selectors.audit_event_list(user=self.request.user, filters=_filters(self))

    @extend_schema(responses={200: dict})
    @action(detail=False, methods=["get"])
    def verify(self, request):
        selectors.audit_event_list(user=request.user)
        result = audit.verify()
        return Response(result.as_dict(), status=status.HTTP_200_OK if result.ok else status.HTTP_409_CONFLICT)


@extend_schema_view(list=extend_schema(parameters=[TZ_PARAMETER]), retrieve=extend_schema(parameters=[TZ_PARAMETER]))
class MaintenanceWindowViewSet(
    ViewerTimeZoneMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Maintenance windows per service and environment. Everyone reads them; the board's chair and
    administrators write them. DELETE deactivates: the window stays on record and admits nothing."""

    serializer_class = s.MaintenanceWindowSerializer
    filterset_class = MaintenanceWindowFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MaintenanceWindow.objects.none()
        return selectors.maintenance_window_list(user=self.request.user, filters=_filters(self))

    def get_object(self):
        return selectors.maintenance_window_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=s.MaintenanceWindowWriteSerializer, responses={201: s.MaintenanceWindowSerializer})
    def create(self, request):
        window = services.maintenance_window_save(
            actor=request.user, data=dict(_valid(s.MaintenanceWindowWriteSerializer, request))
        )
        return Response(s.MaintenanceWindowSerializer(window).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MaintenanceWindowWriteSerializer, responses=s.MaintenanceWindowSerializer)
    def partial_update(self, request, pk=None):
        window = self.get_object()
        data = dict(_valid(s.MaintenanceWindowWriteSerializer, request, partial=True))
        window = services.maintenance_window_save(actor=request.user, data=data, instance=window)
        return Response(s.MaintenanceWindowSerializer(window).data)

    @extend_schema(request=None, responses=s.MaintenanceWindowSerializer)
    def destroy(self, request, pk=None):
        window = services.maintenance_window_deactivate(actor=request.user, window_id=self.get_object().pk)
        return Response(s.MaintenanceWindowSerializer(window).data)


@extend_schema_view(list=extend_schema(parameters=[TZ_PARAMETER]), retrieve=extend_schema(parameters=[TZ_PARAMETER]))
class FreezeViewSet(ViewerTimeZoneMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Freeze (blackout) windows with their reason. Everyone reads them; the board's chair and
    administrators write them (a freeze over every board: administrators). DELETE lifts the freeze."""

    serializer_class = s.FreezeSerializer
    filterset_class = FreezeWindowFilter
    search_fields = ["name", "reason"]
    ordering_fields = ["start", "end", "name", "created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FreezeWindow.objects.none()
        return selectors.freeze_list(user=self.request.user, filters=_filters(self))

    def get_object(self):
        return selectors.freeze_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=s.FreezeWriteSerializer, responses={201: s.FreezeSerializer})
    def create(self, request):
        data = dict(_valid(s.FreezeWriteSerializer, request))
        svcs = data.pop("services", [])
        freeze = services.freeze_save(actor=request.user, data=data, services=svcs)
        return Response(
            s.FreezeSerializer(selectors.freeze_get(user=request.user, pk=freeze.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.FreezeWriteSerializer, responses=s.FreezeSerializer)
    def partial_update(self, request, pk=None):
        freeze = self.get_object()
        data = dict(_valid(s.FreezeWriteSerializer, request, partial=True))
        svcs = data.pop("services", None)
        freeze = services.freeze_save(actor=request.user, data=data, services=svcs, instance=freeze)
        return Response(s.FreezeSerializer(selectors.freeze_get(user=request.user, pk=freeze.pk)).data)

    @extend_schema(request=None, responses=s.FreezeSerializer)
    def destroy(self, request, pk=None):
        freeze = services.freeze_deactivate(actor=request.user, freeze_id=self.get_object().pk)
        return Response(s.FreezeSerializer(selectors.freeze_get(user=request.user, pk=freeze.pk)).data)


def _feed_url(request, token) -> str | None:
    return request.build_absolute_uri(f"/api/v1/calendar/feed/{token.key}.ics") if token else None


class CalendarTokenView(APIView):
    """Your calendar feed's secret address: GET shows it, POST makes a new one (the old one stops
    working), DELETE revokes it."""

    def _answer(self, request, token, code=status.HTTP_200_OK):
        body = {"url": _feed_url(request, token), "created_at": token.created_at if token else None}
        return Response(s.CalendarTokenSerializer(body).data, status=code)

    @extend_schema(responses=s.CalendarTokenSerializer)
    def get(self, request):
        return self._answer(request, selectors.calendar_token_get(user=request.user))

    @extend_schema(request=None, responses={201: s.CalendarTokenSerializer})
    def post(self, request):
        return self._answer(request, services.calendar_token_rotate(actor=request.user), status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        services.calendar_token_revoke(actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarFeedView(APIView):
    """The iCalendar feed behind a secret address: windows, freezes and booked changes its owner may see.
    Calendar apps fetch it without signing in, so the address is the only credential."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "text/calendar"): OpenApiTypes.STR})
    def get(self, request, token=None):
        user = selectors.calendar_feed_owner(key=token)
        now = timezone.now()
        body = ical.render(
            title=f"ccb: {user.get_username()}",
            stamp=now,
            windows=selectors.calendar_windows(user=user).select_related("service"),
            freezes=selectors.calendar_freezes(user=user, since=now - ical.PAST),
            changes=selectors.calendar_changes(user=user, since=now - ical.PAST),
            change_link=lambda c: request.build_absolute_uri(f"/api/v1/changes/{c.pk}/"),
        )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="ccb.ics"'
        response["Cache-Control"] = "private, max-age=300"
        return response


class TokenThrottle(AnonRateThrottle):
    scope = "token"


class StatusView(APIView):
    """Who you are and what you can do, for clients that adapt to the signed-in person."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        boards = selectors.boards_with_role(user=request.user).prefetch_related("memberships")
        roles = {b.slug: sorted(m.role for m in b.memberships.all() if m.user_id == request.user.pk) for b in boards}
        return Response(
            {
                "username": request.user.get_username(),
                "roles": roles,
                "can_read_audit": selectors.can_read_audit(user=request.user),
                "states": Status.values,
            }
        )
