"""The deployment runs API: start, watch, answer, retry, extend, abort; the plan the board votes on."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from ccb import selectors as ccb_selectors

from .. import runs, scheduler, selectors
from ..models import DeploymentRun, RunLogLine, StepRun

LOG_LINES = 200


class StepRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = StepRun
        fields = [
            "position",
            "stage_index",
            "stage_name",
            "name",
            "type",
            "params",
            "status",
            "phase",
            "attempt",
            "timeout_seconds",
            "on_failure",
            "pause_role",
            "started_at",
            "finished_at",
            "next_at",
            "deadline_at",
            "message",
            "evidence",
            "request_ids",
            "state",
        ]


class LogLineSerializer(serializers.ModelSerializer):
    step = serializers.IntegerField(source="step.position", allow_null=True, default=None)

    class Meta:
        model = RunLogLine
        fields = ["id", "at", "level", "step", "message", "data"]


class RunSerializer(serializers.ModelSerializer):
    change = serializers.IntegerField(source="change_id")
    reference = serializers.CharField(source="change.reference")
    runbook = serializers.CharField(source="runbook_version.runbook.name")
    runbook_version = serializers.IntegerField(source="runbook_version.number")
    started_by = serializers.CharField(source="started_by.username")
    drift_accepted_by = serializers.CharField(source="drift_accepted_by.username", allow_null=True, default=None)
    abort_requested_by = serializers.CharField(source="abort_requested_by.username", allow_null=True, default=None)

    class Meta:
        model = DeploymentRun
        fields = [
            "id",
            "change",
            "reference",
            "runbook",
            "runbook_version",
            "environment",
            "rehearsal",
            "status",
            "started_by",
            "armed",
            "revision_hash",
            "runbook_hash",
            "plan_digest",
            "drift",
            "drift_accepted_by",
            "drift_reason",
            "window_end",
            "window_closes",
            "abort_requested_by",
            "abort_reason",
            "outcome",
            "position",
            "created_at",
            "started_at",
            "finished_at",
        ]


class RunDetailSerializer(RunSerializer):
    steps = StepRunSerializer(many=True)
    log = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "plan", "outputs", "steps", "log"]

    def get_log(self, run) -> list[dict]:
        after = self.context.get("log_after") or 0
        lines = run.log_lines.filter(id__gt=after).select_related("step").order_by("-id")[:LOG_LINES]
        return LogLineSerializer(reversed(list(lines)), many=True).data


class StartSerializer(serializers.Serializer):
    change = serializers.IntegerField()
    drift_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        default="",
        help_text="The chair accepts drift from the approved plan, for this reason.",
    )


class AnswerSerializer(serializers.Serializer):
    answer = serializers.ChoiceField(choices=["go", "no_go"])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class AbortSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    fast = serializers.BooleanField(default=False, help_text="Skip what is left of any bake.")


class ExtendSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(min_value=1, max_value=24 * 60)
    reason = serializers.CharField(max_length=5000)


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RunViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Deployment runs of the changes you can see. A run is the engine executing an approved runbook."""

    serializer_class = RunSerializer
    filterset_fields = ["change", "status", "rehearsal"]
    ordering_fields = ["created_at", "started_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DeploymentRun.objects.none()
        return selectors.run_list(user=self.request.user)

    def get_object(self):
        return selectors.run_get(user=self.request.user, pk=self.kwargs["pk"])

    def _detail(self, run, code=status.HTTP_200_OK):
        run = selectors.run_get(user=self.request.user, pk=run.pk)
        after = self.request.query_params.get("log_after", "")
        context = {"log_after": int(after) if after.isascii() and after.isdecimal() else 0}
        return Response(RunDetailSerializer(run, context=context).data, status=code)

    @extend_schema(responses=RunDetailSerializer)
    def retrieve(self, request, pk=None):
        return self._detail(self.get_object())

    @extend_schema(
        request=StartSerializer,
        responses={
            201: RunDetailSerializer,
            409: OpenApiResponse(
                description="Not now (window, freeze, state), or live state drifted: `drift` says how."
            ),
        },
    )
    def create(self, request):
        data = _valid(StartSerializer, request)
        change = ccb_selectors.change_request_get(user=request.user, pk=data["change"])
        plan = runs.live_plan(change, change.environment)
        try:
            run = runs.run_start(change_id=change.pk, actor=request.user, plan=plan, drift_reason=data["drift_reason"])
        except runs.DriftRefused as exc:
            return Response({"detail": exc.message, "drift": exc.drift}, status=status.HTTP_409_CONFLICT)
        return self._detail(run, status.HTTP_201_CREATED)

    @extend_schema(request=AnswerSerializer, responses=RunDetailSerializer)
    @action(detail=True, methods=["post"], url_path=r"gates/(?P<position>\d+)/answer")
    def answer(self, request, pk=None, position=None):
        run = self.get_object()
        data = _valid(AnswerSerializer, request)
        runs.gate_answer(run_id=run.pk, position=int(position), actor=request.user, **data)
        return self._detail(run)

    @extend_schema(request=AbortSerializer, responses=RunDetailSerializer)
    @action(detail=True, methods=["post"])
    def abort(self, request, pk=None):
        run = self.get_object()
        data = _valid(AbortSerializer, request)
        runs.run_abort(run_id=run.pk, actor=request.user, **data)
        return self._detail(run)

    @extend_schema(request=None, responses=RunDetailSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        run = self.get_object()
        runs.run_retry(run_id=run.pk, actor=request.user)
        return self._detail(run)

    @extend_schema(request=ExtendSerializer, responses=RunDetailSerializer)
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        run = self.get_object()
        data = _valid(ExtendSerializer, request)
        runs.run_extend(run_id=run.pk, actor=request.user, **data)
        return self._detail(run)


class PlanView(APIView):
    """The plan of the change's current revision: each step's effect read from live state at submit."""

    @extend_schema(responses={200: dict})
    def get(self, request, pk=None):
        change = ccb_selectors.change_request_get(user=request.user, pk=pk)
        plan = selectors.revision_plan(change=change)
        if plan is None:
            return Response(
                {"detail": "The change has no plan: it is not submitted, or has no typed runbook."},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(
            {
                "revision": change.revision.number,
                "environment": plan.environment,
                "digest": plan.digest,
                "computed_at": plan.computed_at,
                "steps": plan.steps,
            }
        )


class AcceptDriftSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class AcceptDriftView(APIView):
    """The board's chair accepts the drift live state shows now from the approved plan (POST, with a
    reason); the implementer's start then goes ahead with it on record."""

    @extend_schema(request=AcceptDriftSerializer, responses={201: dict})
    def post(self, request, pk=None):
        change = ccb_selectors.change_request_get(user=request.user, pk=pk)
        data = _valid(AcceptDriftSerializer, request)
        plan = runs.live_plan(change, change.environment)
        accepted = runs.run_accept_drift(change_id=change.pk, actor=request.user, plan=plan, reason=data["reason"])
        return Response(
            {
                "change": change.pk,
                "accepted_by": accepted.accepted_by.username,
                "reason": accepted.reason,
                "drift": accepted.drift,
                "live_digest": accepted.live_digest,
            },
            status=status.HTTP_201_CREATED,
        )


class ArmView(APIView):
    """Arm the change to start itself when its slot opens (POST), or disarm it (DELETE)."""

    @extend_schema(request=None, responses={201: dict})
    def post(self, request, pk=None):
        change = ccb_selectors.change_request_get(user=request.user, pk=pk)
        armed = scheduler.run_arm(change_id=change.pk, actor=request.user)
        return Response(
            {"change": change.pk, "armed_by": armed.armed_by.username, "armed_at": armed.armed_at},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk=None):
        change = ccb_selectors.change_request_get(user=request.user, pk=pk)
        scheduler.run_disarm(change_id=change.pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
