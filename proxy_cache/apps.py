from django.apps import AppConfig


class ProxyCacheConfig(AppConfig):
    """Proxy-cache projects: pull-through caches of a registry endpoint (docs/proxy-cache.md)."""

    name = "proxy_cache"
    verbose_name = "Proxy cache"

    def ready(self) -> None:
        from projects import proxy_endpoints
        from proxy_cache import gate, upstreams
        from registry import pull_through

        proxy_endpoints.register(upstreams.check_endpoint)
        pull_through.register(gate.HANDLER)
