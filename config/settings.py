"""Settings, all from the environment (see .env.example for every variable).

Two shapes:
- embedded (no REDIS_URL): SQLite unless DATABASE_URL is set, an in-process Celery worker and
  scheduler on an in-memory broker, and a thread-safe in-memory channel layer: one process;
- services (REDIS_URL set): Redis is the Celery broker and the channel layer, and the worker and the
  scheduler run as their own processes (`celery -A config worker|beat`).
"""

from pathlib import Path

import dj_database_url

from config.env import (
    ImproperlyConfiguredEnv,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("INBOX_VAR_DIR", str(BASE_DIR / "var")))
# Local state (the SQLite database in embedded mode, beat's schedule file in both modes).
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEPLOYMENT = env_choice("INBOX_DEPLOYMENT", ["development", "production"], "development")
PRODUCTION = DEPLOYMENT == "production"
DEBUG = env_bool("DJANGO_DEBUG", default=False)

# Development gets a fixed key so that the web process, the worker and the tests agree on it
# (credentials are encrypted with a key derived from it); production must bring its own.
_DEV_SECRET_KEY = "dev-only-insecure-key-5f0c2a8e7b1d4c3a9e6f"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY") if PRODUCTION else env_str("SECRET_KEY", _DEV_SECRET_KEY)
# Separate key for credentials at rest, so rotating SECRET_KEY does not orphan every channel token.
CREDENTIALS_KEY = (
    env_str("CREDENTIALS_KEY") if PRODUCTION else env_str("CREDENTIALS_KEY", SECRET_KEY)
)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfiguredEnv("ALLOWED_HOSTS must name this site's host(s) in production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "inbox",
    "channels_integrations",
    "moderation",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the browser's Accept-Language, unless the user chose one (below).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "inbox.language.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
                "channels_integrations.context_processors.channel_alerts",
                "inbox.notification_views.notification_bell",
                "inbox.availability_views.availability_menu",
                "moderation.context_processors.incidents",
            ],
        },
    },
]

DATABASE_URL = env_optional("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60)
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "inbox.sqlite3"),
            # The embedded worker writes from other threads: WAL lets readers go on, IMMEDIATE
            # takes the write lock up front instead of failing half-way through a transaction.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A PostgreSQL that hangs fails a request in seconds instead of holding it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE) are a PostgreSQL feature; on SQLite (`make run`) Django creates the
# same index without the extra columns, which is what we want there.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

REDIS_URL = env_optional("REDIS_URL")
EMBEDDED_WORKER = REDIS_URL is None

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: one PUBLISH per group, fanned out by each web process to its own
            # sockets; the list-based layer lost events with a few hundred sockets per process
            # (inbox/live_layer.py, bench/live.py). Its sockets resync after a Redis outage.
            "BACKEND": "inbox.live_layer.ResyncingPubSubChannelLayer",
            "CONFIG": {
                # A PING every 15 s and TCP keepalive on the subscriber's connection: a connection
                # that died without a close (a failover, an idle timeout on the way) errors out
                # and is resubscribed instead of waiting silently.
                "hosts": [
                    {"address": REDIS_URL, "health_check_interval": 15, "socket_keepalive": True}
                ],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "inbox"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "inbox.live_layer.ThreadSafeInMemoryChannelLayer"}}

# The shared cache: API rate limits per token and the worker and beat heartbeats must be seen
# by every process, so it is Redis in the services mode (one process in the embedded mode).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CHANNEL_LAYER_PREFIX", "inbox"),
            "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery (read by config/celery.py with namespace "CELERY").
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "inbox")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A task whose worker dies is handed out again: polls are idempotent and deliveries are claimed
# in the database, so a redelivery can neither duplicate items nor re-post a reply.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
POLL_DISPATCH_SECONDS = env_float("POLL_DISPATCH_SECONDS", 2.0, minimum=0.2)
# How often beat re-enqueues outbox rows whose hand-off to the broker was lost or whose worker
# died while sending (inbox.actions.requeue_stalled_actions).
OUTBOX_SWEEP_SECONDS = env_float("OUTBOX_SWEEP_SECONDS", 60.0, minimum=1.0)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-polls": {
        "task": "channels_integrations.tasks.dispatch_due_polls",
        "schedule": POLL_DISPATCH_SECONDS,
    },
    "requeue-stalled-deliveries": {
        "task": "channels_integrations.tasks.requeue_stalled_deliveries",
        "schedule": OUTBOX_SWEEP_SECONDS,
    },
    "wake-snoozed-conversations": {
        "task": "inbox.tasks.wake_snoozed",
        "schedule": 60.0,
    },
    "assign-waiting-conversations": {
        "task": "inbox.tasks.assign_waiting",
        "schedule": 60.0,
    },
    "check-sla": {
        "task": "inbox.tasks.check_sla",
        "schedule": 60.0,
    },
    "clean-presence": {
        "task": "inbox.tasks.clean_presence",
        "schedule": 300.0,
    },
    "expire-consultations": {
        "task": "inbox.tasks.expire_consultations",
        "schedule": 300.0,
    },
    "detect-crises": {
        "task": "moderation.tasks.detect_crises",
        "schedule": 60.0,
    },
    "expire-listings": {
        "task": "moderation.tasks.expire_listings",
        "schedule": 300.0,
    },
    "relay-webhook-events": {"task": "inbox.webhooks.tasks.relay", "schedule": 5.0},
    "dispatch-webhook-deliveries": {"task": "inbox.webhooks.tasks.dispatch", "schedule": 5.0},
    "prune-webhook-deliveries": {"task": "inbox.webhooks.tasks.prune", "schedule": 3600.0},
    "apply-retention": {
        "task": "inbox.data_protection.tasks.apply_retention",
        "schedule": 3600.0,
    },
    # Proof that a worker consumes the queue, for /healthz (inbox/heartbeat.py); a heartbeat no
    # worker took within two minutes is dropped rather than piled up.
    "worker-heartbeat": {
        "task": "inbox.heartbeat.worker_heartbeat",
        "schedule": 15.0,
        "options": {"expires": 120},
    },
}
# Beat's scheduler records beat's heartbeat and stamps the worker heartbeat (config/celery.py).
CELERY_BEAT_SCHEDULER = "config.celery:HeartbeatScheduler"
# /healthz: a heartbeat older than this is stale; a heartbeat that waited longer than this in the
# queue means the workers fall behind.
HEALTH_HEARTBEAT_MAX_AGE_SECONDS = env_float("HEALTH_HEARTBEAT_MAX_AGE_SECONDS", 60.0, minimum=20.0)
HEALTH_QUEUE_LATENCY_MAX_SECONDS = env_float("HEALTH_QUEUE_LATENCY_MAX_SECONDS", 30.0, minimum=1.0)
# Task modules that autodiscovery (`<app>.tasks`) does not find: the sub-packages' own.
CELERY_IMPORTS = ["inbox.heartbeat", "inbox.data_protection.tasks", "inbox.webhooks.tasks"]
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Polling engine.
POLL_MAX_PAGES_PER_RUN = env_int("POLL_MAX_PAGES_PER_RUN", 10, minimum=1)
POLL_LEASE_SECONDS = env_int("POLL_LEASE_SECONDS", 300, minimum=10)
POLL_BACKOFF_MAX_SECONDS = env_int("POLL_BACKOFF_MAX_SECONDS", 1800, minimum=1)
PLATFORM_CONNECT_TIMEOUT = env_float("PLATFORM_CONNECT_TIMEOUT", 5.0, minimum=0.1)
PLATFORM_READ_TIMEOUT = env_float("PLATFORM_READ_TIMEOUT", 20.0, minimum=0.1)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 5, minimum=1)
OUTBOX_STALL_SECONDS = env_int("OUTBOX_STALL_SECONDS", 300, minimum=10)
# Outbound webhooks (docs/webhooks.md): private and loopback receivers only outside production.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", not PRODUCTION)
WEBHOOK_LOG_DAYS = env_int("WEBHOOK_LOG_DAYS", 30, minimum=1)

# The app's own address for links that leave it (the consulted expert's e-mail); empty: the
# address of the request that asked for advice.
SITE_URL = env_str("SITE_URL", "")

# Moderation (docs/moderation.md): the classifier backend, a dotted path to a class with
# `classify(text, *, language_hint="")` (moderation.classifiers.base.Classifier).
MODERATION_CLASSIFIER = env_str(
    "MODERATION_CLASSIFIER", "moderation.classifiers.lexicon.LexiconClassifier"
)

# Demo fake platform (make run).
FAKE_PLATFORM_HOST = env_str("FAKE_PLATFORM_HOST", "127.0.0.1")
FAKE_PLATFORM_PORT = env_int("FAKE_PLATFORM_PORT", 8765, minimum=1)
# The demo mail server's IMAP and SMTP ports (make run's e-mail channel).
# Mail the app itself sends (notifications, incident alarms, advice requests); without these
# settings it goes to an SMTP server on localhost:25.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "inbox@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
FAKE_MAIL_IMAP_PORT = env_int("FAKE_MAIL_IMAP_PORT", 8143, minimum=1)
FAKE_MAIL_SMTP_PORT = env_int("FAKE_MAIL_SMTP_PORT", 8025, minimum=1)
# Seconds between two demo items per fake platform: about one a minute each, a busy brand's
# day, below the demo escalation levels' fixed thresholds (moderation/demo.py).
DEMO_MENTION_INTERVAL = env_float("DEMO_MENTION_INTERVAL", 40.0, minimum=0.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Sign-in throttling (config/login.py): after this many failures for one username, or from one
# client address, sign-ins are refused (429) until the window since the first failure passes.
LOGIN_THROTTLE_USERNAME_FAILURES = env_int("LOGIN_THROTTLE_USERNAME_FAILURES", 5, minimum=1)
LOGIN_THROTTLE_ADDRESS_FAILURES = env_int("LOGIN_THROTTLE_ADDRESS_FAILURES", 20, minimum=1)
LOGIN_THROTTLE_WINDOW_SECONDS = env_int("LOGIN_THROTTLE_WINDOW_SECONDS", 900, minimum=1)
# Proxies in front that append the client's address to X-Forwarded-For (0: use REMOTE_ADDR;
# Daphne's --proxy-headers already sets it from the proxy's header).
LOGIN_THROTTLE_TRUSTED_PROXIES = env_int("LOGIN_THROTTLE_TRUSTED_PROXIES", 0)
LOGIN_REDIRECT_URL = "inbox:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English dates day first with a 24-hour clock (config/formats/en); German uses Django's own.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start when it is missing
# Serve straight from the app and package folders, so no collectstatic step is needed to run.
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Container health checks speak plain HTTP from inside; they must not be redirected.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True

# Logs: one JSON object per line in production, a readable line otherwise; each tagged with its
# request id or Celery task (config/logging.py, docs/operations.md).
LOG_FORMAT = env_choice("LOG_FORMAT", ["json", "plain"], "json" if PRODUCTION else "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "plain": {"()": "config.logging.PlainFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# The REST API (Django REST framework) and its OpenAPI schema: see config/api_settings.py.
from config.api_settings import REST_FRAMEWORK as REST_FRAMEWORK  # noqa: E402
from config.api_settings import SPECTACULAR_SETTINGS as SPECTACULAR_SETTINGS  # noqa: E402
