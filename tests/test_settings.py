"""Settings parsing: every config.env.Env reader, and the settings module in real processes."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent


def read(reader: str, value: str, *args, **kwargs):
    return getattr(Env({"VAR": value}), reader)("VAR", *args, **kwargs)


def test_raw_treats_empty_and_blank_as_unset():
    env = Env({"EMPTY": "", "BLANK": "   ", "SET": "  x "})

    assert env.raw("EMPTY") is None
    assert env.raw("BLANK") is None
    assert env.raw("MISSING") is None
    assert env.raw("SET") == "x"


def test_text_returns_value_or_default():
    assert read("text", " hello ") == "hello"
    assert read("text", "", "fallback") == "fallback"
    assert Env({}).text("VAR") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("TRUE", True),
        ("yes", True),
        ("On", True),
        ("0", False),
        ("false", False),
        ("NO", False),
        ("off", False),
    ],
)
def test_flag_reads_boolean_words(value, expected):
    assert read("flag", value, not expected) is expected


def test_flag_defaults_when_unset():
    assert Env({}).flag("VAR", True) is True
    assert read("flag", "", False) is False


def test_flag_refuses_other_words():
    with pytest.raises(ImproperlyConfigured, match=r"^VAR must be a boolean .*'maybe'"):
        read("flag", "maybe", True)


def test_integer_reads_numbers():
    assert read("integer", " 42 ", 1) == 42
    assert Env({}).integer("VAR", 7) == 7
    assert read("integer", "5", 1, minimum=5) == 5


@pytest.mark.parametrize("value", ["abc", "1.5", "10s"])
def test_integer_refuses_non_integers(value):
    with pytest.raises(ImproperlyConfigured, match=rf"^VAR must be an integer, got '{value}'"):
        read("integer", value, 1)


def test_integer_refuses_values_below_minimum():
    with pytest.raises(ImproperlyConfigured, match=r"^VAR must be at least 1, got 0"):
        read("integer", "0", 5, minimum=1)


def test_items_splits_on_commas():
    assert read("items", "example.com, www.example.com,,", []) == ["example.com", "www.example.com"]
    assert Env({}).items("VAR", ["a"]) == ["a"]


def test_items_default_is_a_copy():
    default = ["a"]
    Env({}).items("VAR", default).append("b")

    assert default == ["a"]


def test_items_refuses_space_separated_lists():
    with pytest.raises(ImproperlyConfigured, match=r"^VAR must be a comma-separated list"):
        read("items", "example.com www.example.com", [])


def test_origins_normalise_default_ports():
    assert read("origins", "https://example.com, http://localhost:8000/, http://Example.org", []) == [
        "https://example.com:443",
        "http://localhost:8000",
        "http://example.org:80",
    ]
    assert Env({}).origins("VAR", ["http://127.0.0.1:8000"]) == ["http://127.0.0.1:8000"]


@pytest.mark.parametrize(
    "value", ["example.com", "ftp://example.com", "https://example.com/app", "https://", "https://example.com:99999"]
)
def test_origins_refuse_anything_but_full_origins(value):
    with pytest.raises(ImproperlyConfigured, match=r"^VAR "):
        read("origins", value, [])


def test_rate_reads_burst_and_refill():
    assert read("rate", "20/10", "1/1") == (20, 10.0)
    assert read("rate", "5/0.5", "1/1") == (5, 0.5)
    assert Env({}).rate("VAR", "20/10") == (20, 10.0)


@pytest.mark.parametrize("value", ["20", "a/b", "0/10", "20/0", "20/-1", "/10"])
def test_rate_refuses_malformed_values(value):
    with pytest.raises(ImproperlyConfigured, match=r"^VAR must look like 20/10"):
        read("rate", value, "20/10")


def test_throttle_rate_reads_drf_rates_or_off():
    assert read("throttle_rate", "10/min", "1/s") == "10/min"
    assert read("throttle_rate", " 5/Hour ", "1/s") == "5/hour"
    assert read("throttle_rate", "off", "1/s") is None
    assert Env({}).throttle_rate("VAR", "30/min") == "30/min"


@pytest.mark.parametrize("value", ["10", "10/fortnight", "0/min", "-1/min", "ten/min", "10/min/2"])
def test_throttle_rate_refuses_other_values(value):
    with pytest.raises(ImproperlyConfigured, match=r"^VAR must look like 10/min"):
        read("throttle_rate", value, "1/s")


def test_networks_read_addresses_and_networks():
    assert [str(network) for network in read("networks", "10.0.0.5, 10.1.0.0/16, ::1")] == [
        "10.0.0.5/32",
        "10.1.0.0/16",
        "::1/128",
    ]
    assert Env({}).networks("VAR") == []


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.300", "10.0.0.0/99"])
def test_networks_refuse_anything_but_ip_addresses(value):
    with pytest.raises(ImproperlyConfigured, match=r"^VAR must list IP addresses or networks"):
        read("networks", value)


def test_database_reads_postgres_and_sqlite_urls():
    postgres = read("database", "postgres://app:secret@db.internal:5433/realtime", {})
    sqlite = read("database", "sqlite:////var/lib/app/db.sqlite3", {})

    assert postgres["ENGINE"] == "django.db.backends.postgresql"
    assert (postgres["NAME"], postgres["USER"], postgres["PASSWORD"], postgres["HOST"], postgres["PORT"]) == (
        "realtime",
        "app",
        "secret",
        "db.internal",
        5433,
    )
    assert sqlite["ENGINE"] == "django.db.backends.sqlite3"
    assert sqlite["NAME"] == "/var/lib/app/db.sqlite3"
    assert Env({}).database("VAR", {"NAME": "default"}) == {"NAME": "default"}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("mysql://u@h/db", "must be a postgres:// or sqlite:// URL"),
        ("postgres://u@h:abc/db", "is not a valid database URL"),
    ],
)
def test_database_refuses_malformed_urls(value, problem):
    with pytest.raises(ImproperlyConfigured, match=rf"^VAR {problem}"):
        read("database", value, {})


def test_choice_reads_case_insensitively_and_refuses_others():
    assert read("choice", "debug", "INFO", ("DEBUG", "INFO")) == "DEBUG"
    assert read("choice", None, "INFO", ("DEBUG", "INFO")) == "INFO"
    with pytest.raises(ImproperlyConfigured, match=r"^VAR must be one of DEBUG, INFO"):
        read("choice", "LOUD", "INFO", ("DEBUG", "INFO"))


def test_redis_urls_accepts_redis_urls_and_lists_of_them():
    for value in ["redis://localhost:6379/0", "rediss://cache.internal:6380", "unix:///run/redis.sock"]:
        assert read("redis_urls", value) == [value]
    assert read("redis_urls", "redis://a:6379/0, redis://b:6379/0") == ["redis://a:6379/0", "redis://b:6379/0"]
    assert Env({}).redis_urls("VAR") == []


@pytest.mark.parametrize(
    "value", ["http://localhost:6379", "localhost:6379", "redis://", "redis://a:6379/0,", "redis://a,http://b"]
)
def test_redis_urls_refuses_other_urls(value):
    with pytest.raises(ImproperlyConfigured, match=r"^VAR must be a redis:// URL"):
        read("redis_urls", value)


def test_redis_urls_refuses_a_host_listed_twice():
    with pytest.raises(ImproperlyConfigured, match=r"^VAR lists a Redis host twice"):
        read("redis_urls", "redis://a:6379/0,redis://a:6379/0")


# The settings module itself, in fresh processes (settings are read once per process).

READ_BY_SETTINGS = [
    "DEBUG", "SECRET_KEY", "PORT", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "ALLOW_REGISTRATION", "DATABASE_URL",
    "REDIS_URL", "JWT_ACCESS_MINUTES", "JWT_REFRESH_DAYS", "REALTIME_HEARTBEAT", "REALTIME_MAX_FRAME_BYTES",
    "REALTIME_MAX_TOPICS", "REALTIME_RATE", "REALTIME_HISTORY_LIMIT", "REALTIME_ALLOWED_ORIGINS",
    "REALTIME_RETENTION_COUNT", "REALTIME_RETENTION_DAYS", "REALTIME_MAX_BUFFERED_BYTES",
    "REALTIME_PRESENCE_WINDOW_MS", "REALTIME_PRESENCE_TTL", "REALTIME_REDIS_PREFIX", "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS", "BEHIND_TLS_PROXY", "LOG_LEVEL", "LOG_FORMAT", "CORS_ALLOWED_ORIGINS",
    "TRUSTED_PROXIES", "THROTTLE_LOGIN_ACCOUNT", "THROTTLE_LOGIN_ADDRESS", "THROTTLE_REGISTER",
    "THROTTLE_TOKEN_REFRESH", "THROTTLE_WRITES",
]  # fmt: skip

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "example.com",
    "REALTIME_ALLOWED_ORIGINS": "https://example.com",
}


def manage(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Runs manage.py with the embedded defaults plus `variables` (the caller's settings variables are dropped)."""
    env = {name: value for name, value in os.environ.items() if name not in READ_BY_SETTINGS}
    env.update(variables)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def test_check_passes_on_embedded_defaults():
    result = manage("check")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REALTIME_HEARTBEAT", "abc"),
        ("DEBUG", "maybe"),
        ("ALLOWED_HOSTS", "*"),
        ("REALTIME_RATE", "fast"),
        ("REALTIME_ALLOWED_ORIGINS", "example.com"),
        ("DATABASE_URL", "mysql://u@h/db"),
        ("REDIS_URL", "http://localhost"),
        ("LOG_LEVEL", "LOUD"),
        ("LOG_FORMAT", "xml"),
        ("CORS_ALLOWED_ORIGINS", "spa.example.com"),
        ("TRUSTED_PROXIES", "proxy.internal"),
        ("THROTTLE_LOGIN_ACCOUNT", "10 per minute"),
    ],
)
def test_check_fails_naming_a_malformed_variable(name, value):
    result = manage("check", **{name: value})

    assert result.returncode != 0
    assert name in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_production_needs_a_secret_key():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_settings_pass_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert result.stderr == ""
