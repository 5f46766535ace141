from rest_framework.routers import SimpleRouter

from .views import RunbookViewSet

router = SimpleRouter()
router.register("runbooks", RunbookViewSet, basename="runbook")
urlpatterns = router.urls
