"""Django settings. Deployment values come from the environment via harbor_py.core.runtime."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any
from urllib.parse import urlsplit

import dj_database_url

from harbor_py.core import env
from harbor_py.core.runtime import SentinelConfig, load_or_create_secret, load_runtime
from harbor_py.ops.jsonlog import logging_config
from harbor_py.topology import internal_url, load_topology

RUNTIME = load_runtime()

SECRET_KEY = env.get("HARBOR_SECRET_KEY") or load_or_create_secret(RUNTIME.keys_dir / "secret_key")
DEBUG = env.get("HARBOR_DEBUG", "") == "1"
# nginx sends every request with the external URL's host (deploy/nginx-proxy-headers.conf);
# any other Host reached gunicorn some other way and is refused.
ALLOWED_HOSTS = [urlsplit(RUNTIME.external_url).hostname or "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "harbor_py",
    "accounts",
    "projects",
    "registry",
    "audit",
    "replication",
    "harbor_gc.apps.GcConfig",
    "quotas",
    "immutable",
    "scanning",
    "frontend",
    "jobs",
    "scanner",
    "signatures",
    "webhooks",
    "proxy_cache",
    "retention",
]

# The harbor_py.middleware wrappers are Django's own, skipped on registry paths (/v2/,
# /service/token), which need no sessions, CSRF, messages or slash redirects.
MIDDLEWARE = [
    "harbor_py.ops.metrics.MetricsMiddleware",
    "harbor_py.middleware.RequestIdMiddleware",
    "harbor_py.ops.readonly.ReadOnlyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "harbor_py.middleware.SessionMiddleware",
    # The browser's language (or the switcher's choice) for the web UI only (frontend/).
    "frontend.middleware.UiLocaleMiddleware",
    "frontend.middleware.ContentSecurityPolicyMiddleware",
    "harbor_py.middleware.CommonMiddleware",
    "harbor_py.middleware.CsrfViewMiddleware",
    "harbor_py.middleware.AuthenticationMiddleware",
    "harbor_py.middleware.MessageMiddleware",
    "harbor_py.middleware.XFrameOptionsMiddleware",
    "harbor_py.middleware.RegistryFaultMiddleware",
]

ROOT_URLCONF = "harbor_py.urls"
WSGI_APPLICATION = "harbor_py.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
# Local passwords or the directory, by auth_mode, with login throttling (accounts/login.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.HarborBackend"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": dj_database_url.parse(RUNTIME.database_url, conn_max_age=600)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets pulls read while a push writes; IMMEDIATE avoids upgrade deadlocks
    # between gunicorn threads that all write.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _celery_redis_url(url: str) -> str:
    return url.replace("unix://", "redis+socket://", 1) if url.startswith("unix://") else url


REDIS_URL = RUNTIME.redis_url
# Redis through Sentinel (harbor_py/core/redis_conn.py, docs/deployment.md); REDIS_URL is
# then unused.
REDIS_SENTINEL = (
    SentinelConfig.parse(
        env.require("REDIS_SENTINELS"),
        env.get("REDIS_SENTINEL_MASTER", ""),
        env.get("REDIS_DB", "0"),
        env.get("REDIS_PASSWORD", ""),
    )
    if env.get("REDIS_SENTINELS")
    else None
)
CACHES = {
    "default": {
        "BACKEND": "harbor_py.core.cache.HarborRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.get("HARBOR_CACHE_PREFIX", f"harbor-{RUNTIME.port}"),
    },
    # Per-process cache for hot, cheap-to-rebuild values (the content-trust pull verdicts).
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

CELERY_BROKER_URL = (
    REDIS_SENTINEL.celery_broker_url() if REDIS_SENTINEL else _celery_redis_url(REDIS_URL)
)
if REDIS_SENTINEL:
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_SENTINEL.celery_transport_options()
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []  # Harbor's own rule lives in accounts.passwords

LANGUAGE_CODE = "en-us"
# The web UI's languages (catalogues in frontend/locale); zh-cn browsers get zh-hans.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
# The UI's catalogue first: installed apps' catalogues (django_celery_beat translates
# "Name" as a task name) would otherwise win over the app listed after them.
LOCALE_PATHS = [os.path.join(os.path.dirname(os.path.dirname(__file__)), "frontend", "locale")]
LOGIN_URL = "/account/sign-in"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = RUNTIME.data_dir / "static"
# Third-party browser code comes from its npm package (frontend/package.json, pinned in
# package-lock.json), installed by `make deps` with `npm ci`; nothing of it is committed.
STATICFILES_DIRS = [
    (
        "vendor/htmx.org",
        os.path.join(
            os.path.dirname(os.path.dirname(__file__)),
            "frontend",
            "node_modules",
            "htmx.org",
            "dist",
        ),
    )
]

SESSION_COOKIE_NAME = "sid"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "__csrf"
CSRF_HEADER_NAME = "HTTP_X_HARBOR_CSRF_TOKEN"
CSRF_TRUSTED_ORIGINS = [RUNTIME.external_url]
CSRF_FAILURE_VIEW = "harbor_py.api.errors.csrf_failure_view"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.CachedBasicAuthentication",
        "accounts.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "harbor_py.core.pagination.HarborPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["harbor_py.api.negotiation.HarborJSONParser"],
    "DEFAULT_METADATA_CLASS": "harbor_py.api.negotiation.HarborMetadata",
    "EXCEPTION_HANDLER": "harbor_py.api.errors.harbor_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "harbor-py API",
    "DESCRIPTION": "Harbor API v2.0, served by harbor-py",
    "VERSION": "2.0",
    "SCHEMA_PATH_PREFIX": "/api/v2.0",
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: no CDN needed
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "harbor_py.api.schema.document_errors",
    ],
}

_STORAGE = env.get("HARBOR_STORAGE", "filesystem")
_SCANNER_LISTEN = env.get("HARBOR_SCANNER_LISTEN", f"127.0.0.1:{RUNTIME.port + 1}")
HARBOR: dict[str, Any] = {
    "EXTERNAL_URL": RUNTIME.external_url,
    "TOKEN_SERVICE": "harbor-registry",
    "TOKEN_ISSUER": "harbor-token-issuer",
    "TOKEN_KEY_PATH": RUNTIME.token_key_path,
    "TOKEN_CERT_PATH": RUNTIME.token_cert_path,
    "TOKEN_RSA_CERT_PATH": RUNTIME.token_rsa_cert_path,
    "REGISTRY_URL": env.get("HARBOR_REGISTRY_URL", f"unix://{RUNTIME.registry_socket}"),
    "CREDENTIAL_CACHE_SECONDS": int(env.get("HARBOR_CREDENTIAL_CACHE_SECONDS", "300")),
    # Directory logins and group lists (accounts/ldap_cache.py): how long a directory
    # password change or lock, and a group membership change, may take to apply.
    "LDAP_CREDENTIAL_CACHE_SECONDS": int(env.get("HARBOR_LDAP_CREDENTIAL_CACHE_SECONDS", "60")),
    "LDAP_GROUP_CACHE_SECONDS": int(env.get("HARBOR_LDAP_GROUP_CACHE_SECONDS", "300")),
    # How long a CLI secret's check at the OIDC provider is remembered (accounts/oidc_auth.py):
    # a grant revoked at the provider stops the secret within this time.
    "OIDC_TOKEN_CHECK_SECONDS": int(env.get("HARBOR_OIDC_TOKEN_CHECK_SECONDS", "60")),
    "MAX_MANIFEST_BYTES": 4 * 1024 * 1024,
    # distribution's storage driver: "filesystem" (under STORAGE_ROOT) or "s3" (HARBOR_S3_*).
    "STORAGE": _STORAGE,
    # Where distribution's filesystem driver keeps the bytes; empty for other drivers (S3),
    # so that blob HEAD asks distribution instead of reading the directory.
    "STORAGE_ROOT": ""
    if _STORAGE == "s3"
    else env.get("HARBOR_STORAGE_ROOT", str(RUNTIME.storage_dir)),
    # A proxy-cache blob miss is fetched by nginx, not by a gunicorn thread
    # (proxy_cache/blobs.py, docs/proxy-cache.md): needs nginx and the web processes to
    # share HARBOR_DATA_DIR (the staging files) and the filesystem driver.
    "PROXY_NGINX_FETCH": env.get("HARBOR_PROXY_NGINX_FETCH", "true").lower() == "true",
    "PROXY_STAGING_DIR": str(RUNTIME.data_dir / "proxy-staging"),
    # the CAs nginx checks an HTTPS upstream's certificate against when it fetches a blob:
    # the system's, HARBOR_PROXY_UPSTREAM_CAS (a PEM file) and the registry endpoints' own,
    # written by `platform prepare` (harbor_py/management/commands/platform.py)
    "PROXY_UPSTREAM_CA_BUNDLE": str(RUNTIME.config_dir / "proxy-upstream-cas.pem"),
    "S3": {
        "REGION": env.get("HARBOR_S3_REGION", "us-east-1"),
        "ENDPOINT": env.get("HARBOR_S3_ENDPOINT", ""),  # distribution's regionendpoint
        "BUCKET": env.get("HARBOR_S3_BUCKET", ""),
        "ACCESS_KEY": env.get("HARBOR_S3_ACCESS_KEY", ""),
        "SECRET_KEY": env.get("HARBOR_S3_SECRET_KEY", ""),
        "SECURE": env.get("HARBOR_S3_SECURE", "true").lower() != "false",
        "ROOT": env.get("HARBOR_S3_ROOT", ""),  # distribution's rootdirectory
    },
    "VERSION": "v2.0.0-harbor-py",
    # The built-in scanner (scanner/, its own process: docs/scanner.md): where it listens,
    # its URL for the scanner registration, and the bearer token the registration carries
    # (derived from the secret key unless set, so every process of a node agrees on it).
    # HARBOR_BUILTIN_SCANNER=false: a deployment without it (another adapter, e.g. Trivy's,
    # is the default scanner); health then leaves it out.
    "BUILTIN_SCANNER": env.get("HARBOR_BUILTIN_SCANNER", "true").lower() != "false",
    "BUILTIN_SCANNER_LISTEN": _SCANNER_LISTEN,
    "BUILTIN_SCANNER_URL": env.get("HARBOR_BUILTIN_SCANNER_URL", f"http://{_SCANNER_LISTEN}"),
    "BUILTIN_SCANNER_TOKEN": env.get("HARBOR_BUILTIN_SCANNER_TOKEN")
    or hmac.new(SECRET_KEY.encode(), b"harbor-py builtin scanner", hashlib.sha256).hexdigest(),
}
# The address nginx (so the /v2 gate) listens on: what a scanner registered with
# `use_internal_addr` is given instead of EXTERNAL_URL (scanning.scans).
HARBOR["INTERNAL_URL"] = env.get("HARBOR_INTERNAL_URL", "") or internal_url(
    load_topology(RUNTIME).listen
)

# JSON lines with the request id (harbor_py/ops/jsonlog.py); HARBOR_LOG_FORMAT=text for
# humans. Celery keeps this configuration instead of installing its own.
LOGGING = logging_config(env.get("HARBOR_LOG_LEVEL", "INFO"), env.get("HARBOR_LOG_FORMAT", "json"))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3 with parameters bound by the server, so that statements run again and again
    # (every push runs the same dozen) are prepared once per connection and not parsed and
    # planned each time: a third less PostgreSQL CPU per manifest push, measured. A
    # transaction-pooling proxy in front of PostgreSQL (pgbouncer < 1.21) cannot carry
    # prepared statements: HARBOR_DB_PREPARED_STATEMENTS=false turns them off.
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True}
    if env.get("HARBOR_DB_PREPARED_STATEMENTS", "true").lower() != "false":
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2
    # A persistent connection that PostgreSQL ended (restart, failover) is replaced at the
    # start of the next request instead of failing it; the check reads no reply
    # (harbor_py/core/postgres/base.py).
    DATABASES["default"]["ENGINE"] = "harbor_py.core.postgres"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Webhooks (docs/webhooks.md): refuse targets on loopback or private addresses; on unless
# HARBOR_WEBHOOK_ALLOW_PRIVATE_TARGETS=true (tests, and installations whose receivers are
# on the private network).
WEBHOOK_REFUSE_PRIVATE_TARGETS = env.get("HARBOR_WEBHOOK_ALLOW_PRIVATE_TARGETS", "") != "true"
