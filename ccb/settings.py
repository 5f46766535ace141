"""ccb settings. Everything comes from the environment; the defaults need no server at all."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CCB_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def var_path(*parts: str) -> Path:
    """A folder under VAR_DIR, created on first use: the zero-setup defaults keep everything there."""
    path = VAR_DIR.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# CCB_PRODUCTION=1 turns on HTTPS-only cookies, HSTS and hashed static files, and demands a SECRET_KEY.
PRODUCTION = env_bool("CCB_PRODUCTION", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or ("" if PRODUCTION else "django-insecure-ccb-local-development-only")
if not SECRET_KEY:
    raise RuntimeError("Set SECRET_KEY (50+ random characters) when CCB_PRODUCTION is set.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "csp",
    "ccb",
    "deployments",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ccb.inputs.RefuseUnstorableInput",  # before anything reads a cookie, the query string or a form
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "ccb.web.middleware.ViewerTimezoneMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a lockout into the response
]

ROOT_URLCONF = "ccb.urls"
WSGI_APPLICATION = "ccb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ccb.web.context.navigation",
            ],
            "libraries": {"ccb": "ccb.web.templatetags"},
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{var_path() / 'ccb.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers take the database lock when their transaction begins, so two writers never
    # deadlock upgrading a read lock; the audit chain relies on this to stay linear.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# Throttles and login lockouts must be shared by every web process: Redis when CACHE_URL says so.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-in while a username/address is locked out
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous requests are refused

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Lock a username from one address out after repeated failures (django-axes, tracked in the database).
AXES_FAILURE_LIMIT = int(os.environ.get("CCB_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = int(os.environ.get("CCB_LOGIN_COOLOFF_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Nothing serves MEDIA_URL: attachments are served only by the permission-checking download view.
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
CCB_ATTACHMENT_MAX_BYTES = int(os.environ.get("CCB_ATTACHMENT_MAX_BYTES", str(20 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "ccb.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "ccb.api.filters.SelectorFilters",
        "rest_framework.filters.SearchFilter",
        "ccb.api.filters.StableOrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "ccb.api.parsers.JSONParser",
        "ccb.api.parsers.FormParser",
        "ccb.api.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "ccb.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "ccb.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": "10/minute"},
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ccb API",
    "DESCRIPTION": "Change Control Board: packets, votes, decisions, schedules and the audit chain.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "ccb.api.schema.complete"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RiskLevelEnum": "ccb.choices.RiskLevel",
        "ConditionKindEnum": "ccb.choices.ConditionKind",
        "AttachmentKindEnum": "ccb.choices.AttachmentKind",
        "DecisionOutcomeEnum": "ccb.choices.DecisionOutcome",
        "ImplementationOutcomeEnum": "ccb.choices.ImplementationOutcome",
        "StatusEnum": "ccb.choices.Status",
        "RunStatusEnum": "deployments.models.RunStatus",
        "StepStatusEnum": "deployments.models.StepStatus",
    },
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(var_path("broker")),
        "data_folder_out": str(var_path("broker")),
        "processed_folder": str(var_path("broker-processed")),
        "control_folder": str(var_path("broker-control")),  # kombu's default is ./control
        "store_processed": False,
        "polling_interval": 0.05,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TIMEZONE = "UTC"

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "1025"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ccb <ccb@localhost>")

AWS_ENDPOINT_URL = os.environ.get("AWS_ENDPOINT_URL", "")
CCB_BASE_URL = os.environ.get("CCB_BASE_URL", "http://127.0.0.1:8000")
CCB_DEMO_PASSWORD = os.environ.get("CCB_DEMO_PASSWORD", "ccb-demo")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
# Scripts and styles come from our own static files only: no inline script or style, no eval, no framing.
# The API docs page alone adds data: images (Swagger UI's icons; see ccb.web.views.ApiDocsView).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

CELERY_BEAT_SCHEDULE = {
    "audit-verify-nightly": {"task": "ccb.audit_verify", "schedule": 24 * 60 * 60, "options": {"queue": "exports"}},
    "refusal-windows-digest": {"task": "ccb.refusal_windows_digest", "schedule": 60, "options": {"queue": "default"}},
    # Re-queues what the broker lost or a dead worker left: expired step leases, passed countdowns,
    # held runs whose freeze ended, armed changes whose slot opened.
    "deployments-sweep": {
        "task": "deployments.sweep",
        "schedule": 15.0,
        "options": {"queue": "deployments", "expires": 14},
    },
}
# How long a worker's claim on a step lasts without a heartbeat before another may take it over.
CCB_STEP_LEASE_SECONDS = int(os.environ.get("CCB_STEP_LEASE_SECONDS", "60"))
# botocore's attempts per AWS call, the first included (standard retry mode: throttling and 5xx).
CCB_AWS_MAX_ATTEMPTS = int(os.environ.get("CCB_AWS_MAX_ATTEMPTS", "5"))
# Repeats of one person's refusal under one rule within this many seconds share one chain event.
CCB_REFUSAL_WINDOW_SECONDS = int(os.environ.get("CCB_REFUSAL_WINDOW_SECONDS", "60"))
from notifications import celery_config as notifications_celery  # noqa: E402

CELERY_TASK_ROUTES = {**notifications_celery.TASK_ROUTES, "deployments.*": {"queue": "deployments"}}
CELERY_BEAT_SCHEDULE.update(notifications_celery.BEAT_SCHEDULE)
