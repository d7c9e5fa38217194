"""Who a connection is: a JWT (auth frame or ?token=), the session cookie, or nobody."""

from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user, get_user_model
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from config.errors import Unauthorized


@dataclass(slots=True)
class Identity:
    user: Any  # accounts.User or None for anonymous
    expires_at: float | None = None  # UNIX time the token expires; None for sessions


def identity_from_token(token: Any) -> Identity:
    """The active user a SimpleJWT access token names; Unauthorized when invalid or expired."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        raise Unauthorized("A valid access token is required.")
    try:
        # simplejwt annotates this argument as a Token; it is the encoded token text.
        access = AccessToken(token)  # type: ignore[arg-type]
    except TokenError:
        raise Unauthorized("The token is invalid or expired.") from None
    user_id = access.get(api_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}, is_active=True).first()
    if user is None:
        raise Unauthorized("The token's user does not exist or is inactive.")
    return Identity(user=user, expires_at=float(access["exp"]))


def session_key_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The Django session cookie's value from a handshake's headers, if any."""
    for name, value in headers:
        if name == b"cookie":
            key = parse_cookie(value.decode("latin-1")).get(settings.SESSION_COOKIE_NAME)
            if key:
                return key
    return None


def identity_from_session(session_key: str) -> Identity:
    """The user of a Django session (server-rendered pages), or anonymous.

    Loaded here rather than by Channels' session middleware, which would keep a copy of
    the scope and a lazy session alive for the whole life of every connection.
    """
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # get_user() reads nothing of the request but its session.
    user = get_user(cast(HttpRequest, SimpleNamespace(session=session)))
    return Identity(user=user if user.is_authenticated else None)
