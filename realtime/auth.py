"""Who a connection is: a JWT (auth frame or ?token=), the session cookie, or nobody.

A token is checked on the event loop (its signature and claims need no database), and the
user it names comes from `UserCache`, so the common connect needs neither a query nor the
hop to the database thread.
"""

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from types import SimpleNamespace
from typing import Any, cast

import redis
from django.conf import settings
from django.contrib.auth import get_user, get_user_model
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Field
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from redis import asyncio as aioredis
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from config.errors import Unauthorized
from realtime.db import db_call
from realtime.hub import get_hub
from realtime.presence import RedisPresence

logger = logging.getLogger(__name__)

# Past this age a cached user is read again, whatever the generations say: the bound for
# changes no signal reports (QuerySet.update(), raw SQL, a write while Redis was down).
USER_CACHE_SECONDS = 60.0


@dataclass(slots=True)
class Identity:
    user: Any  # accounts.User or None for anonymous
    expires_at: float | None = None  # UNIX time the token expires; None for sessions


async def identity_from_token(token: Any) -> Identity:
    """The active user a SimpleJWT access token names; Unauthorized when invalid or expired."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        raise Unauthorized("A valid access token is required.")
    try:
        # simplejwt annotates this argument as a Token; it is the encoded token text.
        access = AccessToken(token)  # type: ignore[arg-type]
        user_id = _id_field().to_python(access.get(api_settings.USER_ID_CLAIM))
    except (TokenError, ValidationError):
        raise Unauthorized("The token is invalid or expired.") from None
    hub = await get_hub()
    user = await users.get(user_id, hub.presence.redis if isinstance(hub.presence, RedisPresence) else None)
    if user is None or not user.is_active:
        raise Unauthorized("The token's user does not exist or is inactive.")
    return Identity(user=user, expires_at=float(access["exp"]))


@cache
def _id_field() -> "Field[Any, Any]":
    field = get_user_model()._meta.get_field(api_settings.USER_ID_FIELD)
    assert isinstance(field, Field)
    return field


@cache
def _attnames() -> tuple[str, ...]:
    return tuple(field.attname for field in get_user_model()._meta.concrete_fields)


# Generations are unique across the process, so a bump never reproduces an older tag.
_generations = itertools.count(1)
# (this process's generation, Redis' generation or None): the tag of a cached row.
Tag = tuple[int, Any]


class UserCache:
    """Rows of the users who connected lately, keyed by the token's user id claim.

    Each row is tagged with the user's generation read before the row was: this process's
    own counter and, with REDIS_URL, a counter in Redis that every process bumps when it
    saves or deletes the user (`user_changed`, from the model's signals). A row serves a
    connect only while both still match, so a change (a deactivation) is seen by the next
    connect on every process; with Redis each connect reads its generation (one MGET for
    all connects of a loop iteration). Misses of one loop iteration are read in one query
    on the database thread, so a reconnect storm of distinct users costs few thread hops.
    Every connect gets a fresh model instance, as a query would give it.
    """

    def __init__(self) -> None:
        self._rows: dict[Any, tuple[Tag, float, tuple[Any, ...]]] = {}
        self._local: dict[Any, int] = {}
        self._waiting: dict[Any, list[asyncio.Future[tuple[Any, ...] | None]]] = {}
        self._loader: asyncio.Task[None] | None = None
        self._swept_at = time.monotonic()

    async def get(self, user_id: Any, remote: aioredis.Redis | None) -> Any:
        """The user with this id as a new model instance (active or not), or None."""
        if remote is None:
            # No other process can change it unseen: a valid row answers without a suspension.
            row = self._valid(user_id, (self._local.get(user_id, 0), None))
            if row is not None:
                return _instance(row)
        loop = asyncio.get_running_loop()
        if self._loader is None or self._loader.done() or self._loader.get_loop() is not loop:
            if self._loader is not None and self._loader.get_loop() is not loop:
                self._waiting = {}  # a loop that is gone (tests) took its waiters with it
            self._loader = loop.create_task(self._load(remote))
        future: asyncio.Future[tuple[Any, ...] | None] = loop.create_future()
        self._waiting.setdefault(user_id, []).append(future)
        values = await future
        return _instance(values) if values is not None else None

    def changed(self, user_id: Any) -> None:
        """The user's row changed (any thread): no cached copy of it serves a connect again."""
        self._local[user_id] = next(_generations)
        if settings.REDIS_URL:
            try:
                _sync_redis(settings.REDIS_URL).incr(_generation_key(user_id))
            except redis.RedisError:
                # Other processes keep their copy until USER_CACHE_SECONDS; their live sockets
                # of a deactivated user are closed by the disconnect broadcast all the same.
                logger.exception("Could not bump the cache generation of user %s in Redis", user_id)

    def _valid(self, user_id: Any, tag: Tag) -> tuple[Any, ...] | None:
        entry = self._rows.get(user_id)
        if entry is None or entry[0] != tag or time.monotonic() - entry[1] > USER_CACHE_SECONDS:
            return None
        return entry[2]

    async def _load(self, remote: aioredis.Redis | None) -> None:
        # One batch at a time: connects that arrive while one is read wait for the next.
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    found = await self._read(list(batch), remote)
                except Exception as error:
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for user_id, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(found.get(user_id))
        finally:
            self._loader = None
        self._sweep()

    async def _read(self, ids: list[Any], remote: aioredis.Redis | None) -> dict[Any, tuple[Any, ...] | None]:
        # Generations first, then rows: a change committed after this read bumps them again.
        local = [self._local.get(user_id, 0) for user_id in ids]
        remote_generations: list[Any] = [None] * len(ids)
        tags: dict[Any, Tag] | None = None
        try:
            if remote is not None:
                remote_generations = await remote.mget([_generation_key(user_id) for user_id in ids])
            tags = dict(zip(ids, zip(local, remote_generations, strict=True), strict=True))
        except redis.RedisError:
            pass  # Redis is down: rows come from the database, and none is kept
        found = {user_id: self._valid(user_id, tags[user_id]) for user_id in ids} if tags is not None else {}
        missing = [user_id for user_id in ids if found.get(user_id) is None]
        if missing:
            rows = await db_call(_read_rows)(missing)
            now = time.monotonic()
            for user_id in missing:
                row = found[user_id] = rows.get(user_id)
                if tags is not None and row is not None:
                    self._rows[user_id] = (tags[user_id], now, row)
        return found

    def _sweep(self) -> None:
        # Only between reads: dropping a generation then only makes rows read again.
        now = time.monotonic()
        if now - self._swept_at > USER_CACHE_SECONDS:
            self._swept_at = now
            for user_id, entry in list(self._rows.items()):
                if now - entry[1] > USER_CACHE_SECONDS:
                    del self._rows[user_id]
            for user_id in list(self._local):
                if user_id not in self._rows:
                    self._local.pop(user_id, None)


users = UserCache()


def user_changed(user: Any) -> None:
    """A user was saved or deleted: every process reads it again on its next connect.

    Call it from the user model's post_save and post_delete: now, and again after commit,
    so a connect that read the row before the commit does not keep the old one.
    """
    user_id = getattr(user, api_settings.USER_ID_FIELD)
    users.changed(user_id)
    transaction.on_commit(lambda: users.changed(user_id), robust=True)


def _read_rows(user_ids: list[Any]) -> dict[Any, tuple[Any, ...]]:
    attnames = _attnames()
    key = attnames.index(_id_field().attname)
    rows = get_user_model().objects.filter(**{f"{api_settings.USER_ID_FIELD}__in": user_ids}).values_list(*attnames)
    return {row[key]: row for row in rows}


def _instance(values: tuple[Any, ...]) -> Any:
    return get_user_model().from_db(DEFAULT_DB_ALIAS, list(_attnames()), values)


def _generation_key(user_id: Any) -> str:
    return f"{settings.REALTIME_REDIS_PREFIX}:user-gen:{user_id}"


@cache
def _sync_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


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
