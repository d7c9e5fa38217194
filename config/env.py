"""Typed readers for environment variables.

Every reader raises ImproperlyConfigured naming the variable when its value is
malformed, so a typo stops start-up with a message that says where to look.
"""

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


class Env:
    """Reads variables from a mapping (os.environ by default)."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self.source = os.environ if source is None else source

    def raw(self, name: str) -> str | None:
        value = self.source.get(name)
        # An empty variable means "not set": `FOO= cmd` is a common way to unset.
        return value.strip() if value and value.strip() else None

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value.upper() not in choices:
            raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}.")
        return value.upper()

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in TRUE_WORDS:
            return True
        if value.lower() in FALSE_WORDS:
            return False
        raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {value!r}.")

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from None
        if number < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}.")
        return number

    def items(self, name: str, default: list[str]) -> list[str]:
        """A comma-separated list; an item with whitespace inside is refused (a space instead of a comma)."""
        value = self.raw(name)
        if value is None:
            return list(default)
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if any(char.isspace() for char in item):
                raise ImproperlyConfigured(f"{name} must be a comma-separated list, got {item!r} with a space in it.")
        return items

    def origins(self, name: str, default: list[str]) -> list[str]:
        """A comma-separated list of full origins: scheme://host[:port], nothing else."""
        origins = []
        for item in self.items(name, default):
            parts = urlsplit(item)
            if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path not in {"", "/"}:
                raise ImproperlyConfigured(
                    f"{name} must list full origins like https://example.com:8443, got {item!r}."
                )
            try:
                port = parts.port
            except ValueError:
                raise ImproperlyConfigured(f"{name} has an invalid port in {item!r}.") from None
            default_port = 443 if parts.scheme == "https" else 80
            origins.append(f"{parts.scheme}://{parts.hostname}:{port or default_port}")
        return origins

    def browser_origins(self, name: str, default: list[str]) -> list[str]:
        """Full origins as a browser's Origin header spells them: the default port left out."""
        spelled = []
        for origin in self.origins(name, default):
            for scheme, port in (("http", ":80"), ("https", ":443")):
                if origin.startswith(f"{scheme}://") and origin.endswith(port):
                    origin = origin.removesuffix(port)
            spelled.append(origin)
        return spelled

    def rate(self, name: str, default: str) -> tuple[int, float]:
        """A token bucket written as "burst/refill per second", e.g. "20/10"."""
        value = self.text(name, default) or default
        burst, sep, refill = value.partition("/")
        try:
            parsed = (int(burst), float(refill))
        except ValueError:
            parsed = (0, 0.0)
        if not sep or parsed[0] < 1 or parsed[1] <= 0:
            raise ImproperlyConfigured(f"{name} must look like 20/10 (burst / refill per second), got {value!r}.")
        return parsed

    def throttle_rate(self, name: str, default: str) -> str | None:
        """A REST throttle rate as DRF writes it ("10/min": count / s, min, hour or day), or "off" (None)."""
        value = (self.text(name, default) or default).lower()
        if value in {"off", "none"}:
            return None
        if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value):
            raise ImproperlyConfigured(
                f"{name} must look like 10/min (count / s, min, hour or day) or off, got {value!r}."
            )
        return value

    def networks(self, name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """A comma-separated list of IP addresses or networks (10.0.0.5, 10.0.0.0/8, ::1)."""
        networks = []
        for item in self.items(name, []):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ImproperlyConfigured(f"{name} must list IP addresses or networks, got {item!r}.") from None
        return networks

    def database(self, name: str, default: dict[str, Any]) -> dict[str, Any]:
        value = self.raw(name)
        if value is None:
            return default
        scheme = urlsplit(value).scheme
        if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
            raise ImproperlyConfigured(f"{name} must be a postgres:// or sqlite:// URL, got scheme {scheme!r}.")
        try:
            return environ.Env.db_url_config(value)
        except Exception as error:
            raise ImproperlyConfigured(f"{name} is not a valid database URL: {error}") from None

    def redis_urls(self, name: str) -> list[str]:
        """One redis:// URL, or several separated by commas (hosts a deployment shards over)."""
        value = self.raw(name)
        if value is None:
            return []
        urls = [url.strip() for url in value.split(",")]
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.hostname or parts.path):
                raise ImproperlyConfigured(f"{name} must be a redis:// URL or a comma-separated list, got {url!r}.")
        if len(set(urls)) != len(urls):
            raise ImproperlyConfigured(f"{name} lists a Redis host twice.")
        return urls
