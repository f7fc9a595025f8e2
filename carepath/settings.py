"""The one settings module. Everything an operator may change comes from CAREPATH_* variables;
a secret may instead be read from the file named by CAREPATH_<NAME>_FILE."""

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    file_path = os.environ.get(f"CAREPATH_{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(f"CAREPATH_{name}", default)


def env_bool(name: str, default: bool) -> bool:
    return env(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


VAR_DIR = Path(env("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _persistent_secret(file_name: str) -> str:
    """The embedded default keeps a generated secret in var/ so restarts keep sessions valid."""
    path = VAR_DIR / file_name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("SECRET_KEY") or _persistent_secret("secret_key")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_tasks_db",
    "carepath.core",
    "carepath.audit",
    "carepath.accounts",
    "carepath.access",
    "carepath.consent",
    "carepath.notifications",
    "carepath.portal",
    "carepath.fhir",
    "carepath.demo",
    "carepath.workqueue",
    "carepath.files",
    "carepath.scheduling",
    "carepath.sms",
    "carepath.idempotency",
    "carepath.care",
    "carepath.intake",
    "carepath.econsults",
    "carepath.visits",
    "carepath.messaging",
    "carepath.rpm",
    "carepath.pharmacy",
    "carepath.prescribing",
    "carepath.carepaths",
]

MIDDLEWARE = [
    "carepath.core.middleware.RequestIdMiddleware",
    "carepath.core.middleware.MetricsMiddleware",
    "carepath.core.middleware.ApiErrorShapeMiddleware",
    "carepath.core.input_guard.RejectUnsafeInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "carepath.accounts.middleware.ApiTokenMiddleware",
    "carepath.accounts.middleware.IdleTimeoutMiddleware",
    "carepath.accounts.middleware.StaffMfaMiddleware",
    "carepath.core.middleware.ViewerTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "carepath.urls"
ASGI_APPLICATION = "carepath.asgi.application"
AUTH_USER_MODEL = "accounts.User"

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
                "django.template.context_processors.csp",
                "carepath.core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# One test database per pytest process, so parallel runs on a shared server never collide.
_TEST_SUFFIX = f"{os.getpid()}_{secrets.token_hex(3)}"
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    # Under ASGI every request runs its sync code in a fresh thread, so persistent
    # per-thread connections would pile up until PostgreSQL refuses more: close each one.
    # A small psycopg pool per process hands them out instead (connect costs ~5 ms).
    DATABASES: dict[str, Any] = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DB_POOL_SIZE", 10),
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": f"test_carepath_{_TEST_SUFFIX}"}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "carepath.sqlite3",
            "OPTIONS": {
                # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at
                # BEGIN so two writers queue instead of failing on a lock upgrade.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not :memory:, so the live test server's threads share one database.
            "TEST": {
                "NAME": str(Path(tempfile.gettempdir()) / f"carepath_test_{_TEST_SUFFIX}.sqlite3")
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache ---------------------------------------------------------
REDIS_URL = env("REDIS_URL")
CHANNEL_PREFIX = env("CHANNEL_PREFIX", "carepath")
if REDIS_URL:
    CHANNEL_LAYERS: dict[str, Any] = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 defaults socket_timeout to 5 s, which cuts channels-redis's blocking
            # reads and drops every idle WebSocket every few seconds: wait indefinitely.
            # Room for hundreds of sockets per worker: the defaults (100 connections, 100
            # queued messages per channel) drop signaling messages under load.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None, "max_connections": 1000}],
                "prefix": CHANNEL_PREFIX,
                "capacity": 1000,
            },
        }
    }
    CACHES: dict[str, Any] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CHANNEL_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Background tasks -----------------------------------------------------------------------
# "immediate" runs tasks inline (the test suite uses it so e-mail lands while a test waits);
# the database backend and its worker are the default everywhere else.
TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
}
TASKS = {"default": {"BACKEND": TASK_BACKENDS[env("TASK_BACKEND", "database")]}}

# --- E-mail: a local outbox by default, SMTP when CAREPATH_SMTP_HOST is set -----------------
DEFAULT_FROM_EMAIL = env("EMAIL_FROM", "Carepath <no-reply@carepath.localhost>")
EMAIL_OUTBOX_DIR = VAR_DIR / "outbox"
SMTP_HOST = env("SMTP_HOST")
if SMTP_HOST:
    MAILERS: dict[str, Any] = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": SMTP_HOST,
                "port": env_int("SMTP_PORT", 587),
                "username": env("SMTP_USER"),
                "password": env("SMTP_PASSWORD"),
                "use_tls": env_bool("SMTP_STARTTLS", True),
                "timeout": 20,
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(EMAIL_OUTBOX_DIR)},
        }
    }

# --- Accounts, allauth, MFA -----------------------------------------------------------------
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SIGNUP_FORM_CLASS = "carepath.accounts.forms.PatientSignupForm"
ACCOUNT_ADAPTER = "carepath.accounts.adapters.CarepathAccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Carepath: "
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": env("LOGIN_RATE_LIMIT", "5/5m/ip,5/5m/key"),
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
}
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
MFA_ADAPTER = "carepath.accounts.adapters.CarepathMfaAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Carepath"
LOGIN_REDIRECT_URL = "/home/"
LOGIN_URL = "/accounts/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Idle timeout in minutes: staff default 15 (HIPAA practice), patients 30.
STAFF_IDLE_TIMEOUT_MINUTES = env_int("STAFF_IDLE_TIMEOUT_MINUTES", 15)
PATIENT_IDLE_TIMEOUT_MINUTES = env_int("PATIENT_IDLE_TIMEOUT_MINUTES", 30)
BREAK_GLASS_MAX_MINUTES = env_int("BREAK_GLASS_MAX_MINUTES", 240)
STAFF_INVITATION_DAYS = env_int("STAFF_INVITATION_DAYS", 7)

# --- Sessions, cookies, security headers ----------------------------------------------------
SECURE_COOKIES = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "carepath.core.views.csrf_failure"
if env("PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Nothing is loaded from another origin: pages with health information run only our code.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"],
    "media-src": ["'self'", "blob:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# --- Locale, time ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


# --- Uploaded files: AES-GCM at rest, keyed by id so keys can rotate --------------------------
# CAREPATH_FILE_KEYS="id:base64key,id2:base64key" (32-byte keys); the first listed is current
# unless CAREPATH_FILE_KEY_ID names another. The embedded default keeps one key in var/.
def _file_keys() -> dict[str, bytes]:
    import base64

    raw = env("FILE_KEYS") or f"local1:{_persistent_file_key('file_key')}"
    keys: dict[str, bytes] = {}
    for entry in raw.split(","):
        key_id, _, encoded = entry.strip().partition(":")
        key = base64.b64decode(encoded)
        if len(key) != 32:
            raise ValueError(f"file key {key_id!r} must be 32 bytes")
        keys[key_id] = key
    return keys


def _persistent_file_key(file_name: str) -> str:
    import base64

    path = VAR_DIR / file_name
    if not path.exists():
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


FILE_ENCRYPTION_KEYS = _file_keys()
FILE_ENCRYPTION_KEY_ID = env("FILE_KEY_ID") or next(iter(FILE_ENCRYPTION_KEYS))
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 15 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 40_000_000)

# --- Work queue ---------------------------------------------------------------------------
WORK_ITEM_LEASE_MINUTES = env_int("WORK_ITEM_LEASE_MINUTES", 15)
WORK_ITEM_DUE_SOON_MINUTES = env_int("WORK_ITEM_DUE_SOON_MINUTES", 30)
QUEUE_TICK_SECONDS = env_int("QUEUE_TICK_SECONDS", 60)
WHITENOISE_USE_FINDERS = True

# --- TURN (used by live visits) ---------------------------------------------------------------
TURN_URLS = env_list("TURN_URLS", "")
TURN_SECRET = env("TURN_SECRET")

# --- Live visits (carepath.visits) ------------------------------------------------------------
# STUN/TURN URLs are comma-separated (e.g. "turn:turn.example.org:3478?transport=udp"); TURN
# credentials are ephemeral (TURN REST: username "<expiry>:<user id>", HMAC-SHA1 password).
STUN_URLS = env_list("STUN_URLS", "")
TURN_CREDENTIAL_TTL_SECONDS = env_int("TURN_CREDENTIAL_TTL_SECONDS", 3600)
ICE_TRANSPORT_POLICY = env("ICE_TRANSPORT_POLICY", "all")  # "relay" forces TURN
VISIT_LINK_EARLY_MINUTES = env_int("VISIT_LINK_EARLY_MINUTES", 15)
VISIT_LINK_LATE_MINUTES = env_int("VISIT_LINK_LATE_MINUTES", 30)
VISIT_MAX_PARTICIPANTS = env_int("VISIT_MAX_PARTICIPANTS", 4)
VISIT_SIGNAL_RATE_PER_SECOND = env_int("VISIT_SIGNAL_RATE_PER_SECOND", 50)
VISIT_SIGNAL_BURST = env_int("VISIT_SIGNAL_BURST", 100)
VISIT_SIGNAL_MAX_BYTES = env_int("VISIT_SIGNAL_MAX_BYTES", 64 * 1024)
ON_DEMAND_DUE_MINUTES = env_int("ON_DEMAND_DUE_MINUTES", 10)
ON_DEMAND_VISIT_MINUTES = env_int("ON_DEMAND_VISIT_MINUTES", 30)
ON_DEMAND_DEFAULT_HANDLE_MINUTES = env_int("ON_DEMAND_DEFAULT_HANDLE_MINUTES", 12)

# --- Scheduling (carepath.scheduling, carepath.sms) -------------------------------------------
# Patients may cancel/reschedule online until this many hours before the start; staff any time.
CANCEL_CUTOFF_HOURS = float(env("CANCEL_CUTOFF_HOURS", "2"))
# Reminder e-mails (and SMS when the patient has a phone), minutes before the start.
REMINDER_OFFSETS_MINUTES = [int(m) for m in env_list("REMINDER_OFFSETS_MINUTES", "1440,60")]
SMS_BACKEND = env("SMS_BACKEND", "carepath.sms.backends.OutboxSmsSender")
# The public address used in e-mailed links and calendar invites.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")

# --- Secure messaging (carepath.messaging) ---------------------------------------------------
# A patient's message is due an answer within MESSAGE_SLA_MINUTES (a work item); a recipient who
# is not looking at the thread is nudged (no health information) at most once per thread per
# MESSAGE_NUDGE_MINUTES.
MESSAGE_SLA_MINUTES = env_int("MESSAGE_SLA_MINUTES", 1440)
MESSAGE_NUDGE_MINUTES = env_int("MESSAGE_NUDGE_MINUTES", 15)
MESSAGE_MAX_LENGTH = env_int("MESSAGE_MAX_LENGTH", 5000)

# --- Logging: one JSON object per line, with the request id, never health information -------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "carepath.core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "carepath.core.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}

# --- Prescribing and the pharmacy handoff ------------------------------------------------------
# A refill request waits this long for its prescriber before any eligible clinician may take it.
PRESCRIBING_REFILL_PRESCRIBER_HOURS = env_int("PRESCRIBING_REFILL_PRESCRIBER_HOURS", 24)
PRESCRIBING_REFILL_DUE_HOURS = env_int("PRESCRIBING_REFILL_DUE_HOURS", 72)
# Pharmacy webhooks: https only, to public addresses only, unless an operator names an
# internal gateway here ("host:port", comma-separated).
PHARMACY_WEBHOOK_ALLOW_HTTP = env_bool("PHARMACY_WEBHOOK_ALLOW_HTTP", False)
PHARMACY_WEBHOOK_ALLOWED_HOSTS = env_list("PHARMACY_WEBHOOK_ALLOWED_HOSTS", "")
PHARMACY_WEBHOOK_TIMEOUT_SECONDS = env_int("PHARMACY_WEBHOOK_TIMEOUT_SECONDS", 10)
PHARMACY_DISPATCH_MAX_ATTEMPTS = env_int("PHARMACY_DISPATCH_MAX_ATTEMPTS", 5)
PHARMACY_DISPATCH_BACKOFF_SECONDS = env_int("PHARMACY_DISPATCH_BACKOFF_SECONDS", 30)
PHARMACY_DISPATCH_BACKOFF_MAX_SECONDS = env_int("PHARMACY_DISPATCH_BACKOFF_MAX_SECONDS", 3600)
