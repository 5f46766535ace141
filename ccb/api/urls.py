from django.urls import path
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from . import views
from .serializers import TokenRequestSerializer

router = SimpleRouter()
router.register("boards", views.BoardViewSet, basename="board")
router.register("services", views.ServiceViewSet, basename="service")
router.register("templates", views.TemplateViewSet, basename="template")
router.register("changes", views.ChangeRequestViewSet, basename="change")
router.register("audit", views.AuditEventViewSet, basename="audit")
router.register("windows", views.MaintenanceWindowViewSet, basename="window")
router.register("freezes", views.FreezeViewSet, basename="freeze")


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token."""

    throttle_classes = [views.TokenThrottle]
    authentication_classes = []  # the body's username and password are the credentials
    permission_classes = [AllowAny]
    parser_classes = APIView.parser_classes  # ccb's parsers (DRF's view names its own)
    serializer_class = TokenRequestSerializer


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("me/", views.StatusView.as_view(), name="api-me"),
    path("calendar/token/", views.CalendarTokenView.as_view(), name="calendar-token"),
    path("calendar/feed/<str:token>.ics", views.CalendarFeedView.as_view(), name="calendar-feed"),
    *router.urls,
]
