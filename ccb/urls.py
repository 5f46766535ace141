from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from ccb import views
from ccb.web.views import ApiDocsView, favicon

urlpatterns = [
    path("", include("ccb.web.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("ccb.api.urls")),
    path("", include("deployments.urls")),
    path("notifications/", include("notifications.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
]

# API paths answer JSON even when no API view runs (a body too large, a URL no route matches); pages get
# ccb's pages.
handler400 = "ccb.api.exceptions.bad_request"
handler403 = "ccb.web.errors.permission_denied"
handler404 = "ccb.api.exceptions.not_found"
handler500 = "ccb.api.exceptions.server_error"
