"""Settings, read from the environment in this one place.

With no environment at all the project runs on SQLite and the in-memory channel
layer with DEBUG on, bound to 127.0.0.1 (the embedded default). DATABASE_URL and
REDIS_URL switch to PostgreSQL and Redis; README.md lists every variable.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

from corsheaders.defaults import default_headers as default_cors_headers
from django.core.exceptions import ImproperlyConfigured

from config.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()

DEBUG = env.flag("DEBUG", True)
SECRET_KEY = env.text("SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-embedded-default-only-for-local-development"  # noqa: S105

PORT = env.integer("PORT", 8000, minimum=1)
ALLOWED_HOSTS = env.items("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list host names; '*' would disable host checking.")
CSRF_TRUSTED_ORIGINS = env.items("CSRF_TRUSTED_ORIGINS", [])
ALLOW_REGISTRATION = env.flag("ALLOW_REGISTRATION", True)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "realtime",
    "accounts",
    "chat",
    "shares",
    "uploads",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # CORS answers preflights and adds its headers before CommonMiddleware can redirect.
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# SQLite: IMMEDIATE transactions take the write lock up front, so two writers
# never deadlock upgrading a read lock (stream seq assignment relies on it).
SQLITE_DEFAULT = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": BASE_DIR / "db.sqlite3",
}
DATABASES = {"default": env.database("DATABASE_URL", SQLITE_DEFAULT)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file (not :memory:) so server processes started by tests can share it; one per test run.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = BASE_DIR / f"test-db-{os.getpid()}.sqlite3"
else:
    # One test database per test run, so concurrent runs on one server never collide.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_{DATABASES['default']['NAME']}_{os.getpid()}"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One Redis, or several (comma-separated) that the channel layer and presence shard over by
# a hash of each group or topic; the first also holds the cache and HTTP transport sessions.
REDIS_URLS = env.redis_urls("REDIS_URL")
REDIS_URL = REDIS_URLS[0] if REDIS_URLS else None
# Every Redis key and pub/sub channel of this deployment starts with it, so deployments
# (or test runs) sharing one Redis never see each other's events or presence.
REALTIME_REDIS_PREFIX = env.text("REALTIME_REDIS_PREFIX", "rt") or "rt"
if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", REALTIME_REDIS_PREFIX):
    raise ImproperlyConfigured("REALTIME_REDIS_PREFIX must be 1-40 letters, digits, '_', '.' or '-'.")
if REDIS_URL:
    # socket_timeout=None: redis-py 8 otherwise drops idle subscribers after ~5 s.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                # Several hosts: channels-redis picks each group's host by consistent hashing.
                "hosts": [{"address": url, "socket_timeout": None} for url in REDIS_URLS],
                "prefix": f"{REALTIME_REDIS_PREFIX}:asgi",
            },
        }
    }
    # Counters that must span processes (a share's password attempts, kicks, slow mode).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REALTIME_REDIS_PREFIX,
        }
    }
else:
    # The realtime hub uses one layer channel per process, so capacity is per process, not per client.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 100_000, "group_expiry": 10**9},
        }
    }

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve straight from the source folders in development so no collectstatic is needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # Every view counts writes per user; the auth views set their own (accounts/api/views.py).
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.WriteThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.integer("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.integer("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
}
# REST throttles (config/throttling.py), counted in the cache: Redis with REDIS_URL, so they
# hold across processes. "off" turns one off.
THROTTLE_RATES = {
    "login_account": env.throttle_rate("THROTTLE_LOGIN_ACCOUNT", "10/min"),
    "login_address": env.throttle_rate("THROTTLE_LOGIN_ADDRESS", "30/min"),
    "register": env.throttle_rate("THROTTLE_REGISTER", "10/hour"),
    "token_refresh": env.throttle_rate("THROTTLE_TOKEN_REFRESH", "30/min"),
    "writes": env.throttle_rate("THROTTLE_WRITES", "120/min"),
}
# Peers (addresses or networks) whose X-Forwarded-For names the client; anyone else's is ignored.
TRUSTED_PROXIES = env.networks("TRUSTED_PROXIES")

# CORS for SPAs on other origins (django-cors-headers): off unless CORS_ALLOWED_ORIGINS lists
# them; REST only, no cookies (SPAs send a JWT in Authorization).
CORS_ALLOWED_ORIGINS = env.browser_origins("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_HEADERS = (*default_cors_headers, "if-none-match", "x-share-password")
CORS_EXPOSE_HEADERS = ["Retry-After", "ETag"]

SPECTACULAR_SETTINGS = {
    "TITLE": "Realtime backend API",
    "DESCRIPTION": "REST endpoints of the realtime backend. The WebSocket protocol is in docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from drf-spectacular-sidecar's pinned copies, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No online validator badge: it would send the schema's URL to a public service.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets whose field names other apps use too (`kind`).
    "ENUM_NAME_OVERRIDES": {
        "NotificationKindEnum": "notifications.models.Kind",
        "ShareKindEnum": "shares.models.Share.Kind",
    },
}

# Notifications' trigger API: backends that are not Django send this in X-Notifications-Token
# (unset: staff users only).
NOTIFICATIONS_API_TOKEN = env.text("NOTIFICATIONS_API_TOKEN") or ""

# Realtime core (docs/protocol.md section 7).
# How the realtime core shows a user (the protocol's U); the core imports no app.
REALTIME_USER_PUBLIC = "accounts.selectors.user_public"
REALTIME_HEARTBEAT = env.integer("REALTIME_HEARTBEAT", 25, minimum=1)
REALTIME_MAX_FRAME_BYTES = env.integer("REALTIME_MAX_FRAME_BYTES", 65536, minimum=256)
REALTIME_MAX_TOPICS = env.integer("REALTIME_MAX_TOPICS", 100, minimum=1)
REALTIME_RATE = env.rate("REALTIME_RATE", "20/10")
REALTIME_HISTORY_LIMIT = env.integer("REALTIME_HISTORY_LIMIT", 500, minimum=1)
REALTIME_ALLOWED_ORIGINS = env.origins(
    "REALTIME_ALLOWED_ORIGINS",
    [f"http://127.0.0.1:{PORT}", f"http://localhost:{PORT}"] if DEBUG else [],
)
# Streams keep at most this many events per topic, for at most this many days.
REALTIME_RETENTION_COUNT = env.integer("REALTIME_RETENTION_COUNT", 10000, minimum=1)
REALTIME_RETENTION_DAYS = env.integer("REALTIME_RETENTION_DAYS", 7, minimum=1)
# A connection whose unsent output passes this many bytes is not reading: drop it.
REALTIME_MAX_BUFFERED_BYTES = env.integer("REALTIME_MAX_BUFFERED_BYTES", 4 * 1024 * 1024, minimum=65536)
# Presence diffs are coalesced over this window (milliseconds, at most 500).
REALTIME_PRESENCE_WINDOW_MS = min(env.integer("REALTIME_PRESENCE_WINDOW_MS", 200, minimum=1), 500)
# With Redis, a server process's presence entries expire this long after it stops refreshing them.
REALTIME_PRESENCE_TTL = env.integer("REALTIME_PRESENCE_TTL", 30, minimum=3)

# Uploads (tus 1.0): limits checked when a file is declared and again on every byte.
MEDIA_ROOT = Path(env.text("MEDIA_ROOT") or BASE_DIR / "media")
UPLOAD_MAX_FILE_BYTES = env.integer("UPLOAD_MAX_FILE_BYTES", 100 * 1024 * 1024, minimum=1)
UPLOAD_MAX_FILES = env.integer("UPLOAD_MAX_FILES", 20, minimum=1)
UPLOAD_MAX_SESSION_BYTES = env.integer("UPLOAD_MAX_SESSION_BYTES", 1024 * 1024 * 1024, minimum=1)
UPLOAD_ALLOWED_TYPES = env.items(
    "UPLOAD_ALLOWED_TYPES",
    ["image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "video/mp4", "application/pdf"],
)
UPLOAD_CATEGORIES = env.items("UPLOAD_CATEGORIES", ["personal", "scenic"])
UPLOAD_SESSION_TTL = env.integer("UPLOAD_SESSION_TTL", 86400, minimum=60)

if not DEBUG:
    SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.flag("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# PLAIN for people reading a terminal, JSON (one object per line) for log collectors.
LOG_FORMAT = env.choice("LOG_FORMAT", "PLAIN", ("PLAIN", "JSON"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "realtime.logging.RedactTokensFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "realtime.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT.lower(),
            "filters": ["redact_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": env.choice("LOG_LEVEL", "INFO", LOG_LEVELS)},
}
