"""The registry paths' URL conf: the token service and the /v2 API, in one flat list. The
site's URL conf (harbor_py.urls) includes it first; the registry paths' handler
(harbor_py.wsgi.RegistryHandler) resolves with it alone, so a registry request is matched
against these eight patterns and nothing else (harbor_py.middleware.is_registry_path: no
other pattern of the site matches a registry path)."""

from django.urls import URLPattern, path

from accounts.api.views import registry_token
from registry import v2_urls

urlpatterns: list[URLPattern] = [
    path("service/token", registry_token),
    *v2_urls.urlpatterns,
]
