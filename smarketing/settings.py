"""Settings for Smarketing, read from the environment (12-factor).

With nothing set, the app runs on an SQLite file in the project folder with Celery
tasks executed eagerly in-process, so it works on a bare machine. Production sets
DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and DEBUG=false; everything else
follows from those (see README, "Production").
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is the development key; set a real one.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base URL used in emails (invitation links) sent from workers.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "smarketing.accounts",
    "smarketing.notifications",
    "personas",
    "leads",
    "sla",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "smarketing.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "smarketing.accounts.tenancy.OrganizationMiddleware",
]

ROOT_URLCONF = "smarketing.urls"
WSGI_APPLICATION = "smarketing.wsgi.application"
ASGI_APPLICATION = "smarketing.asgi.application"

# Django's form renderer with the common widgets written in Python (smarketing/renderers.py).
FORM_RENDERER = "smarketing.renderers.FastRenderer"

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
                "smarketing.accounts.context_processors.tenancy",
                "smarketing.notifications.context_processors.notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env.str("TEST_DATABASE_NAME", default=""):
    # CI starts a Celery worker against the test database, so its name must be known.
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}
USING_POSTGRES = DATABASES["default"]["ENGINE"].endswith(("postgresql", "postgis"))
# The reads on every request's path are prepared on the PostgreSQL session (smarketing.prepared);
# false behind a pooler that shares server sessions between transactions (PgBouncer, transaction mode).
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Django's ModelBackend, the signed-in user read by a prepared statement. Sessions are Django's
# database sessions, read the same way.
AUTHENTICATION_BACKENDS = ["smarketing.accounts.backends.ModelBackend"]
SESSION_ENGINE = "smarketing.sessions"
LOGIN_URL = "accounts:login"
# "/" sends each member to where they start: a sales rep to their queue, everyone else to the overview.
LOGIN_REDIRECT_URL = "index"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=30)

# --- I18N -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (served by WhiteNoise, from the repo and packages; no CDN) ------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
CONTENT_MAX_UPLOAD_MB = env.int("CONTENT_MAX_UPLOAD_MB", default=25)
# Chunks of a full rescore run at once on PostgreSQL (one database connection each): the cores
# the database may spend on it.
RESCORE_WORKERS = env.int("RESCORE_WORKERS", default=2)
if RESCORE_WORKERS < 1:
    raise ImproperlyConfigured("RESCORE_WORKERS is at least 1.")
# A full event batch (1,000 events with up to 8 KB of properties each) must fit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Email ----------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Smarketing <noreply@smarketing.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security (strict unless DEBUG; each can be overridden) -----------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "smarketing.accounts.authentication.AccessTokenAuthentication",
        "smarketing.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["smarketing.accounts.permissions.IsOrganizationMember"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "smarketing.api.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "smarketing.api.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "smarketing.negotiation.ContentNegotiation",
    "UNAUTHENTICATED_USER": None,
    # Per client address: password guessing (POST /api/v1/auth/token), embedded web form
    # submissions (per form too) and tracking events sent from the organisation's sites.
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("AUTH_THROTTLE_RATE", default="10/min"),
        "webform": env.str("WEBFORM_THROTTLE_RATE", default="20/min"),
        "tracking": env.str("TRACKING_THROTTLE_RATE", default="120/min"),
    },
}
# Throttles tell clients apart by address: behind N proxies, the Nth from the right of X-Forwarded-For.
REST_FRAMEWORK["NUM_PROXIES"] = env.int("NUM_PROXIES", default=1 if BEHIND_PROXY else 0) or None
SPECTACULAR_SETTINGS = {
    "TITLE": "Smarketing API",
    "DESCRIPTION": "One shared record of every lead for sales and marketing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # One named enum per vocabulary, however many fields use it.
    "ENUM_NAME_OVERRIDES": {
        "SeniorityEnum": "leads.models.Seniority",
        "ChannelEnum": "leads.models.Channel",
        "BuyerStageEnum": "leads.models.BuyerStage",
        "RoleEnum": "smarketing.accounts.models.Membership.Role",
        "SideEnum": "smarketing.accounts.models.Membership.Side",
        "LifecycleStageEnum": "leads.models.Lead.Stage",
        "HandoffStatusEnum": "leads.models.Handoff.Status",
        "ReturnReasonEnum": "leads.models.ReturnReason",
        "LostReasonEnum": "leads.models.LostReason",
        "TouchKindEnum": "leads.models.Touch.Kind",
        "TouchOutcomeEnum": "leads.models.Touch.Outcome",
        "OpportunityKindEnum": "leads.models.Opportunity.Kind",
        "OpportunityStatusEnum": "leads.models.Opportunity.Status",
        "AgreementPeriodEnum": "sla.models.Agreement.Period",
        "AgreementStatusEnum": "sla.models.Agreement.Status",
    },
}

REDIS_URL = env.str("REDIS_URL", default="")

# --- Cache (throttling, later rollups): Redis when configured, else in-process ---------------
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without a broker, tasks run eagerly in-process: the embedded default needs no Redis.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# acks_late alone still loses a task whose worker process is killed: reject it instead,
# so the broker redelivers it.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# The longest countdown, ETA or retry delay any task may use. A message that waits longer
# than the Redis visibility timeout is delivered twice; smarketing.celery asserts at
# start-up that every registered task stays below it.
CELERY_MAX_TASK_DELAY_SECONDS = 3600
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 3600),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "expire-invitations": {
        "task": "smarketing.accounts.tasks.expire_invitations",
        "schedule": 15 * 60,
    },
    # Events are stored before they are scored; this catches any whose task was never queued.
    "sweep-unscored-events": {
        "task": "leads.tasks.sweep_unscored_events",
        "schedule": 60,
    },
    # Handoffs at risk or past due: warn, breach (exactly once), re-route after the grace.
    "check-handoff-deadlines": {
        "task": "sla.tasks.check_deadlines",
        "schedule": 60,
    },
    # Hourly, so each organisation's midnight is caught in its own time zone; runs once a period.
    # Where the organisation asks for it: handoffs predicted to breach go to someone else first.
    "sla-reroute-predicted": {
        "task": "sla.tasks.reroute_predicted",
        "schedule": 15 * 60,
    },
    "sla-period-end": {
        "task": "sla.tasks.period_end_check",
        "schedule": 60 * 60,
    },
}

# --- Logging --------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
