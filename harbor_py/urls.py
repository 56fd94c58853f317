from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from accounts import session_views
from harbor_py.api import configurations, system

api_v2: list[URLPattern | URLResolver] = [
    path("health", system.HealthView.as_view()),
    path("systeminfo", system.SystemInfoView.as_view()),
    path("systeminfo/volumes", system.VolumesView.as_view()),
    path("systeminfo/getcert", system.CertView.as_view()),
    path("ping", system.PingView.as_view()),
    path("configurations", configurations.ConfigurationsView.as_view()),
    path("internalconfig", configurations.InternalConfigView.as_view()),
    path("", include("accounts.api.urls")),
    path("", include("projects.api.urls")),
    # before registry's: its additions/<addition> would take additions/vulnerabilities
    path("", include("scanning.api.urls")),
    path("", include("registry.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("harbor_gc.api.urls")),
    path("", include("replication.api.urls")),
    path("", include("quotas.api.urls")),
    path("", include("immutable.api.urls")),
    path("", include("signatures.api.urls")),
    path("", include("webhooks.api.urls")),
    path("", include("retention.api.urls")),
    path("", include("jobs.api.urls")),
]

urlpatterns = [
    # The registry routes first: they take most requests, and Django tries patterns in order.
    path("", include("harbor_py.registry_urls")),
    path("c/login", session_views.session_login),
    path("c/log_out", session_views.session_logout),
    path("api/version", system.VersionView.as_view()),
    path("api/v2.0/", include(api_v2)),
    path("api/v2.0/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("devcenter-api-2.0", SpectacularSwaggerView.as_view(url_name="openapi")),
    path("", include("frontend.urls", namespace="ui")),
]

handler400 = "harbor_py.api.errors.bad_request_view"
handler404 = "frontend.views.base.page_not_found"
handler500 = "harbor_py.api.errors.server_error_view"
