from django.urls import include, path

from . import views

urlpatterns = [
    path("api/v1/", include("deployments.api.urls")),
    path("runbooks/<int:pk>/", views.runbook_detail, name="runbook-page"),
]
