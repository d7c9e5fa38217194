"""REST throttles, counted in Django's cache (Redis with REDIS_URL, so limits span processes).

Rates are settings (`THROTTLE_*`, README "Configuration"), read per request. Addresses
come from `config.network.client_address`: the socket's peer unless a trusted proxy
forwards for it. A refused request is 429 with `Retry-After` in the common error shape
(`config.api.exception_handler`).
"""

import hashlib
import math
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from config.network import client_address

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.request import Request
    from rest_framework.views import APIView

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SettingRateThrottle(SimpleRateThrottle):
    """A throttle whose rate is `settings.THROTTLE_RATES[scope]` (None: not throttled)."""

    def get_rate(self) -> str | None:
        rate: str | None = settings.THROTTLE_RATES[str(self.scope)]
        return rate

    def get_ident(self, request: "Request") -> str:
        return client_address(request)

    def _key(self, ident: str) -> str:
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginAddressThrottle(SettingRateThrottle):
    """Sign-in attempts per client address."""

    scope = "login_address"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        return self._key(self.get_ident(request)) if request.method == "POST" else None


class LoginAccountThrottle(SettingRateThrottle):
    """Sign-in attempts per account name, from any address (an unknown name counts the same)."""

    scope = "login_account"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        if request.method != "POST":
            return None
        username = _username(request)
        if not username:
            return None
        return self._key(hashlib.sha256(username.casefold().encode()).hexdigest()[:32])


class RegisterAddressThrottle(SettingRateThrottle):
    """Registrations per client address."""

    scope = "register"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        return self._key(self.get_ident(request)) if request.method == "POST" else None


class TokenRefreshAddressThrottle(SettingRateThrottle):
    """Token refreshes per client address."""

    scope = "token_refresh"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        return self._key(self.get_ident(request)) if request.method == "POST" else None


class WriteThrottle(SettingRateThrottle):
    """Writes (POST, PUT, PATCH, DELETE) per signed-in user, per address for anonymous writers."""

    scope = "writes"

    def get_cache_key(self, request: "Request", view: "APIView") -> str | None:
        if request.method in SAFE_METHODS:
            return None
        user = request.user
        if user is not None and user.is_authenticated:
            return self._key(f"user-{user.pk}")
        return self._key(f"address-{self.get_ident(request)}")


def login_wait(request: HttpRequest) -> int | None:
    """Counts a sign-in attempt of the HTML login form like one of POST /api/auth/token/ (the
    same counters); the seconds to wait when over a limit, else None."""
    waits = [
        throttle.wait()
        for throttle in (LoginAddressThrottle(), LoginAccountThrottle())
        if not throttle.allow_request(request, None)  # type: ignore[arg-type]
    ]
    return max(1, math.ceil(max(wait or 1 for wait in waits))) if waits else None


def _username(request: "Request | HttpRequest") -> str:
    # A DRF request's parsed body (an unparsable one raises ParseError here: 400), or a form's.
    data: Any = request.data if hasattr(request, "data") else request.POST
    value = data.get("username") if hasattr(data, "get") else None
    return value.strip() if isinstance(value, str) else ""
