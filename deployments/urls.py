from django.urls import include, path

from . import run_views, views

urlpatterns = [
    path("api/v1/", include("deployments.api.urls")),
    path("runbooks/step-types/", views.step_types, name="step-types"),
    path("runbooks/<int:pk>/", views.runbook_detail, name="runbook-page"),
    path("runbooks/<int:pk>/editor/", views.runbook_editor, name="runbook-editor"),
    path("runbooks/<int:pk>/versions/", views.runbook_version_new, name="runbook-version-new"),
    path(
        "runbooks/<int:pk>/versions/<int:number>/approve/",
        views.runbook_version_approve,
        name="runbook-version-approve",
    ),
    path("changes/<int:pk>/release-plan/", views.change_release_plan, name="change-release-plan"),
    path("changes/<int:pk>/deployment/", run_views.change_deployment, name="change-deployment"),
    path("changes/<int:pk>/deployment/start/", run_views.deployment_start, name="deployment-start"),
    path("changes/<int:pk>/deployment/arm/", run_views.deployment_arm, name="deployment-arm"),
    path("changes/<int:pk>/deployment/drift/", run_views.deployment_drift, name="deployment-drift"),
    path(
        "changes/<int:pk>/deployment/accept-drift/", run_views.deployment_accept_drift, name="deployment-accept-drift"
    ),
    path("changes/<int:pk>/deployment/disarm/", run_views.deployment_disarm, name="deployment-disarm"),
    path("deployments/<int:run_id>/abort/", run_views.run_abort, name="run-abort"),
    path("deployments/<int:run_id>/gates/<int:position>/answer/", run_views.run_answer, name="run-answer"),
    path("deployments/<int:run_id>/retry/", run_views.run_retry, name="run-retry"),
    path("deployments/<int:run_id>/extend/", run_views.run_extend, name="run-extend"),
    path("deployments/dashboard/", run_views.dashboard_runs, name="deployments-dashboard"),
]
