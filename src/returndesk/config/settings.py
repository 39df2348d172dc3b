"""ReturnDesk settings: everything that differs between machines comes from the environment.

See README.md ("Configuration") for the variables. The defaults run the demo on SQLite with no
other service; production sets DATABASE_URL, SECRET_KEY, ALLOWED_HOSTS and RETURNDESK_PRODUCTION.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, cast

import dj_database_url


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SRC_DIR = Path(__file__).resolve().parents[2]
PROJECT_DIR = SRC_DIR.parent
VAR_DIR = Path(os.environ.get("RETURNDESK_VAR_DIR", PROJECT_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
# Real data that nobody here wrote, read at run time and never copied into the repository.
RETURNDESK_DATA_DIR = Path(
    os.environ.get("RETURNDESK_DATA_DIR", PROJECT_DIR.parent / "shared" / "data")
).resolve()

DEBUG = env_bool("DEBUG")
PRODUCTION = env_bool("RETURNDESK_PRODUCTION")


def _secret_key() -> str:
    """SECRET_KEY from the environment; otherwise one generated once per checkout (demo only)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set when RETURNDESK_PRODUCTION=1")
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "ninja",
    "returndesk.core",
    "returndesk.tenants",
    "returndesk.catalog",
    "returndesk.policies",
    "returndesk.notifications",
    "returndesk.credit",
    "returndesk.returns",
    "returndesk.shipping",
    "returndesk.warehouse",
    "returndesk.api",
    "returndesk.refunds",
    "returndesk.integrations",
    "returndesk.analytics",
    "returndesk.operations",
    "returndesk.cli",
    "returndesk.console",
    "returndesk.portal",
    "returndesk.observability",
]

MIDDLEWARE = [
    # First: the client's address behind a trusted proxy, then the request id, latency metric
    # and request log around everything else (returndesk/observability, docs/deploy.md).
    "returndesk.observability.middleware.ForwardedForMiddleware",
    "returndesk.observability.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "returndesk.api.middleware.ApiRequestGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "returndesk.config.urls"
WSGI_APPLICATION = "returndesk.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'returndesk.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN so
        # concurrent writers wait (busy timeout) instead of failing on lock upgrade.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("RETURNDESK_TEST_DB_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenants.User"
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English")]
# Page text goes through gettext; English is the source language and ships its catalogue.
# `make messages` extracts and compiles (locale/README.md).
LOCALE_PATHS = [SRC_DIR / "returndesk" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("RETURNDESK_MEDIA_ROOT", VAR_DIR / "media"))
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Uploads, logos and label PDFs in an S3-compatible bucket (django-storages) when a bucket is
# named: what several machines need (docs/deploy.md). Keys may also come from boto3's own
# chain (AWS_* variables, an instance role) when these are unset. The bucket stays private.
RETURNDESK_S3_BUCKET = os.environ.get("RETURNDESK_S3_BUCKET", "")
if RETURNDESK_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "returndesk.core.storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": RETURNDESK_S3_BUCKET,
            "endpoint_url": os.environ.get("RETURNDESK_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("RETURNDESK_S3_REGION") or None,
            "access_key": os.environ.get("RETURNDESK_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("RETURNDESK_S3_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("RETURNDESK_S3_PREFIX", ""),
            "addressing_style": os.environ.get("RETURNDESK_S3_ADDRESSING_STYLE") or None,
            "default_acl": None,
            "file_overwrite": False,
        },
    }
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# The API enforces its own limits (1 MiB, 16 MiB for bulk and uploads) and answers 413 with
# problem+json; Django's own cap sits just above the larger one.
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024 + 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
RETURNDESK_MAX_BODY = 1024 * 1024
RETURNDESK_MAX_BULK_BODY = 16 * 1024 * 1024

# The provider's EasyPost account for carrier labels (empty: EasyPost is off and merchants get
# the next carrier they chose). The base URL is there for a replaying server in tests.
RETURNDESK_EASYPOST_API_KEY = os.environ.get("RETURNDESK_EASYPOST_API_KEY", "")
RETURNDESK_EASYPOST_API_BASE = os.environ.get(
    "RETURNDESK_EASYPOST_API_BASE", "https://api.easypost.com/v2"
)
# Payment providers' service URLs (docs/payments.md): unset (None) is the real Stripe or PayPal
# (PayPal's sandbox or live by the merchant's setting); a URL points every merchant's calls at a
# replay server (tests/payments/servers.py). Credentials are per merchant, stored encrypted.
RETURNDESK_STRIPE_API_BASE = os.environ.get("RETURNDESK_STRIPE_API_BASE") or None
RETURNDESK_PAYPAL_API_BASE = os.environ.get("RETURNDESK_PAYPAL_API_BASE") or None
# Shopify's Admin API for refund write-backs (docs/integrations.md): unset is each merchant's own
# shop (https://<shop>.myshopify.com); a URL points every merchant's calls at a replay server.
RETURNDESK_SHOPIFY_API_BASE = os.environ.get("RETURNDESK_SHOPIFY_API_BASE", "")
# Inbound carrier webhooks (docs/tracking-webhooks.md). EasyPost's webhook secret; the generic
# format's secrets as "carrier=secret" pairs, comma-separated. Several secrets for one carrier
# (repeat it, or list EasyPost's comma-separated) are all accepted while one is being rotated.
# A carrier without a secret has its webhooks refused and its labels polled instead.
RETURNDESK_EASYPOST_WEBHOOK_SECRET = os.environ.get("RETURNDESK_EASYPOST_WEBHOOK_SECRET", "")
RETURNDESK_CARRIER_WEBHOOK_SECRETS = os.environ.get("RETURNDESK_CARRIER_WEBHOOK_SECRETS", "")

# Keys that encrypt merchants' integration secrets (core/secrets.py): Fernet keys, comma-separated,
# the first encrypting and all decrypting. The demo derives one from SECRET_KEY.
RETURNDESK_SECRETS_KEYS = os.environ.get("RETURNDESK_SECRETS_KEYS", "")
if PRODUCTION and not RETURNDESK_SECRETS_KEYS:
    raise RuntimeError("RETURNDESK_SECRETS_KEYS must be set when RETURNDESK_PRODUCTION=1")

# Merchant webhooks (docs/webhooks.md): the deadline of one delivery attempt, in seconds, and
# whether receivers on this machine (loopback, http allowed) may be used: the demo and tests;
# production sends only over https to public addresses.
RETURNDESK_WEBHOOK_TIMEOUT = float(os.environ.get("RETURNDESK_WEBHOOK_TIMEOUT", "10"))
RETURNDESK_WEBHOOKS_ALLOW_LOOPBACK = env_bool("RETURNDESK_WEBHOOKS_ALLOW_LOOPBACK", not PRODUCTION)

# Shopper e-mails (docs/notifications.md). EMAIL_BACKEND: "console" (the default: the demo
# prints each e-mail), "smtp" (EMAIL_HOST and the rest below), or a backend's dotted path.
# Django 6.1 configures mail through MAILERS; the EMAIL_* names stay the environment's.
EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}
# Production sends (check --deploy refuses a console mailer there); the demo prints.
_email_backend = os.environ.get("EMAIL_BACKEND", "") or ("smtp" if PRODUCTION else "console")
_email_backend = EMAIL_BACKENDS.get(_email_backend, _email_backend)
_mail_options: dict[str, object] = {}
if _email_backend == EMAIL_BACKENDS["smtp"]:
    _mail_options = {
        "host": os.environ.get("EMAIL_HOST", "localhost"),
        "port": int(os.environ.get("EMAIL_PORT", "587")),
        "username": os.environ.get("EMAIL_HOST_USER", ""),
        "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", True),
        "use_ssl": env_bool("EMAIL_USE_SSL"),
        "timeout": int(os.environ.get("EMAIL_TIMEOUT", "30")),
    }
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _mail_options}}
# The sender's address; each e-mail shows it as "<merchant> via <provider>" and answers go to
# the merchant's support address (Reply-To).
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "returns@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where shoppers reach this installation: links and logos in e-mails are absolute.
RETURNDESK_PUBLIC_URL = os.environ.get("RETURNDESK_PUBLIC_URL", "http://localhost:8000")

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# Content-Security-Policy without inline scripts (Django's built-in CSP).
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Probes and scrapes talk to a web process directly over http on the private network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# Observability (docs/deploy.md). /metrics: with a token, scrapers send it as a bearer token
# (comma-separated while rotating); without one, only clients on this machine that did not come
# through a proxy. /readyz: a worker must have finished a periodic job within this many seconds
# (reported only when RETURNDESK_READY_REQUIRE_WORKER is off). Behind a reverse proxy, its
# addresses (IPs or networks) make X-Forwarded-For the client's address.
RETURNDESK_METRICS_TOKEN = os.environ.get("RETURNDESK_METRICS_TOKEN", "")
RETURNDESK_READY_WORKER_MAX_AGE = float(os.environ.get("RETURNDESK_READY_WORKER_MAX_AGE", "300"))
RETURNDESK_READY_REQUIRE_WORKER = env_bool("RETURNDESK_READY_REQUIRE_WORKER", True)
RETURNDESK_TRUSTED_PROXIES = env_list("RETURNDESK_TRUSTED_PROXIES")

# Logs: one JSON object per line in production (or RETURNDESK_LOG_JSON=1), readable text in the
# demo; either way each record carries the request id, or the job and run id (core/logs.py).
# In JSON mode each request is one `returndesk.request` line (gunicorn's access log is off).
LOG_JSON = env_bool("RETURNDESK_LOG_JSON", PRODUCTION)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "returndesk.core.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s%(context)s %(message)s"},
        "json": {"()": "returndesk.core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_JSON else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "returndesk.request": {"level": "INFO" if LOG_JSON else "WARNING"},
    },
}

# Secrets never reach a log line or an error page (docs/security.md): every handler, and
# Django's error reports, redact what has the shape of a key or a signing secret
# (core/redaction.py). In production the outside services' client
# libraries, which log each request they make at INFO or DEBUG, speak from WARNING only.
DEFAULT_EXCEPTION_REPORTER = "returndesk.core.redaction.RedactingExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "returndesk.core.redaction.MarkedSecretsFilter"
_logging = cast(dict[str, Any], LOGGING)
_logging.setdefault("filters", {})["redact_secrets"] = {
    "()": "returndesk.core.redaction.RedactSecrets"
}
for _handler in _logging["handlers"].values():
    _handler["filters"] = [*_handler.get("filters", []), "redact_secrets"]
if PRODUCTION:
    for _library in ("stripe", "urllib3", "pyactiveresource", "easypost", "paypalserversdk"):
        _logging["loggers"].setdefault(_library, {"level": "WARNING"})
