from django.urls import path
from rest_framework.routers import SimpleRouter

from .runs import AcceptDriftView, ArmView, PlanView, RunViewSet
from .views import RunbookViewSet

router = SimpleRouter()
router.register("runbooks", RunbookViewSet, basename="runbook")
router.register("deployments", RunViewSet, basename="deployment")
urlpatterns = [
    *router.urls,
    path("changes/<int:pk>/plan/", PlanView.as_view(), name="change-plan"),
    path("changes/<int:pk>/arm/", ArmView.as_view(), name="change-arm"),
    path("changes/<int:pk>/accept-drift/", AcceptDriftView.as_view(), name="change-accept-drift"),
]
