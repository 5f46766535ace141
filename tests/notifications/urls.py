"""The root URLconf as it will be once ccb/urls.py includes notifications (the line is in the report)."""

from django.urls import include, path

from ccb.urls import urlpatterns as ccb_patterns

urlpatterns = [*ccb_patterns, path("notifications/", include("notifications.urls"))]
