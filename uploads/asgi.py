"""The tus PATCH of an upload, streamed: `PATCH /api/uploads/tus/<id>` at the ASGI level.

Django's ASGI handler spools a whole request body before a view runs, so a PATCH cut
off mid-body would keep nothing. Here each `http.request` chunk goes to the partial
file as it arrives, and the offset is recorded every INTERVAL seconds and at the end,
also when the client disconnects: on uvicorn (the production default) a resumed upload
loses nothing that arrived. daphne buffers the whole body before the application sees
it, so there a client resumes from its last complete PATCH.

Authentication is the REST API's (a JWT in `Authorization`, or the session cookie with
the CSRF token); limits, locking and processing are the services' (uploads.services),
the same the Django views use. Every other request goes to `app`.
"""

import asyncio
import io
import logging
import os
import re
from importlib import import_module
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.settings import api_settings

from accounts.models import User
from config.errors import BadRequest, Forbidden, ServiceError, Unauthorized
from uploads import services, storage, tus
from uploads.errors import TooLarge, UnsupportedMediaType
from uploads.models import FileStatus, UploadFile
from uploads.progress import throttle

logger = logging.getLogger(__name__)

STORE_EVERY = 0.1  # seconds between offset records while a body streams (progress events follow them)

ASGIApp = Any


def authenticate(scope: dict[str, Any]) -> User:
    """The signed-in user of the request, as the REST API's authenticators decide (JWT, or the
    session cookie with CSRF); Unauthorized or Forbidden otherwise, BadRequest for a Host
    that ALLOWED_HOSTS does not list (Django's middleware would refuse it too)."""
    request = ASGIRequest(scope, io.BytesIO())
    try:
        request.get_host()
    except DisallowedHost:
        raise BadRequest("Invalid Host header.") from None
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    request.user = SimpleLazyObject(lambda: get_user(request))  # type: ignore[assignment]
    classes: list[type[BaseAuthentication]] = api_settings.DEFAULT_AUTHENTICATION_CLASSES  # type: ignore[assignment]
    drf_request = Request(request, authenticators=[auth() for auth in classes])
    try:
        user = drf_request.user
    except exceptions.AuthenticationFailed as error:
        raise Unauthorized(str(error.detail)) from None
    except exceptions.APIException as error:
        raise Forbidden(str(error.detail)) from None
    if not isinstance(user, User):
        raise Unauthorized("Sign in, or send a JWT in Authorization.")
    return user


async def _respond(send: Any, status: int, headers: dict[str, str], body: bytes = b"") -> None:
    headers = {**tus.base_headers(), **headers, "Content-Length": str(len(body))}
    if body:
        headers["Content-Type"] = "application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _respond_error(send: Any, error: ServiceError) -> None:
    headers = {"Tus-Version": tus.TUS_RESUMABLE} if error.http_status == 412 else {}
    body = orjson.dumps({"detail": tus.error_text(error), "code": error.code})
    await _respond(send, error.http_status, headers, body)


def _begin(scope: dict[str, Any], file_id: int, offset: int, length: int | None) -> tuple[User, services.WriteClaim]:
    """Who is asking, and their turn to append: one database call (one connection) for both."""
    user = authenticate(scope)
    return user, services.upload_write_begin(user=user, file_id=file_id, offset=offset, length=length)


def _process_in_worker(file_id: int) -> UploadFile:
    """upload_file_process in a pool thread, which closes its database connection after:
    pool threads outlive the request and would keep (and eventually leak) it."""
    try:
        return services.upload_file_process(file_id=file_id)
    finally:
        connections.close_all()


class TusPatchRoute:
    """ASGI HTTP app: PATCH on a tus upload resource streams here; everything else goes to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._pattern: re.Pattern[str] | None = None

    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            # The URLconf owns the path; the id part is what uploads.api.urls matches.
            prefix = reverse("api-uploads-tus-file", args=[0]).removesuffix("0/").removesuffix("0")
            self._pattern = re.compile(re.escape(prefix) + r"([0-9]{1,18})/?")
        return self._pattern

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "PATCH":
            match = self.pattern().fullmatch(scope["path"])
            if match is not None:
                await patch(scope, receive, send, int(match[1]))
                return
        await self.app(scope, receive, send)


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


async def patch(scope: dict[str, Any], receive: Any, send: Any, file_id: int) -> None:
    """Appends the body at `Upload-Offset` (tus core): 204 with the new `Upload-Offset`, or the
    refusal: 409 offset, 412 version, 413 past `Upload-Length`, 415 content type, 460
    checksum (nothing appended), 410 cancelled or expired, 404 not the caller's."""
    headers = _headers(scope)
    db = database_sync_to_async
    try:
        tus.check_version(headers)
        if headers.get("content-type", "").split(";", 1)[0].strip().lower() != tus.PATCH_CONTENT_TYPE:
            raise UnsupportedMediaType(f"PATCH bodies must be {tus.PATCH_CONTENT_TYPE}.")
        offset = tus.parse_offset(headers.get("upload-offset"))
        checksum = services.parse_checksum(headers.get("upload-checksum"))
        length = tus.parse_offset(headers["content-length"], "Content-Length") if "content-length" in headers else None
        user, claim = await db(_begin)(scope, file_id, offset, length)
    except ServiceError as error:
        await _respond_error(send, error)
        return
    try:
        received, disconnected, too_large = await _stream(receive, claim, user, checksum is None)
    except ServiceError as error:
        # Cancelled meanwhile (410), or the turn was lost after a long stall (409): stop here.
        await _respond_error(send, error)
        return
    if too_large or (checksum is not None and disconnected):
        # A refused body appends nothing, nor does a checksummed one that cannot be verified.
        storage.partial_truncate(claim.file_id, claim.offset)
        received = claim.offset
    try:
        file = await db(services.upload_write_end)(
            user=user, claim=claim, received=received, checksum=None if disconnected else checksum
        )
        if file.status == FileStatus.PROCESSING:
            throttle.request(claim.session_id)
            # Hashing and saving a large file takes a while: not in the process's shared database thread.
            file = await sync_to_async(_process_in_worker, thread_sensitive=False)(file.pk)
        if too_large:
            raise TooLarge(f"The body goes past Upload-Length {claim.size}; nothing was appended.")
    except ServiceError as error:
        throttle.request(claim.session_id)
        if not disconnected:
            await _respond_error(send, error)
        return
    throttle.request(claim.session_id)
    if disconnected:
        return
    expires = tus.expires_header(claim.session_expires_at)
    await _respond(send, 204, {"Upload-Offset": str(file.received), "Upload-Expires": expires})


async def _stream(receive: Any, claim: services.WriteClaim, user: User, record: bool) -> tuple[int, bool, bool]:
    """Writes the body from the claim's offset; returns (new offset, client disconnected, too large).

    With `record` the offset is stored (and progress asked for) every STORE_EVERY seconds;
    a checksummed body is recorded only at the end, once verified.
    """
    loop = asyncio.get_running_loop()
    received = claim.offset
    last_store = loop.time()
    # Local disk writes of one chunk (64 KiB from uvicorn) take microseconds: done inline.
    handle = storage.partial_open(claim.file_id, claim.offset)
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return received, True, False
            body = message.get("body", b"")
            if body:
                if received + len(body) > claim.size:
                    return received, False, True
                handle.write(body)
                received += len(body)
            if not message.get("more_body", False):
                return received, False, False
            if loop.time() - last_store >= STORE_EVERY:
                last_store = loop.time()
                await database_sync_to_async(services.upload_write_progress)(
                    user=user, claim=claim, received=received if record else None
                )
                if record:
                    throttle.request(claim.session_id)
    finally:
        os.fsync(handle.fileno())
        handle.close()
