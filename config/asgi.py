"""ASGI entry point: HTTP goes to Django (/health, the realtime HTTP transport /rt/* and a tus
upload's streaming PATCH are answered before it), WebSocket /ws/ to the realtime consumer."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models.
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from config.health import HealthEndpoint  # noqa: E402
from realtime.consumer import RealtimeConsumer  # noqa: E402
from realtime.middleware import realtime_middleware  # noqa: E402
from realtime.transport_http import HttpTransport  # noqa: E402
from uploads.asgi import TusPatchRoute  # noqa: E402

application = ProtocolTypeRouter(
    {
        # A tus upload's PATCH streams its body to storage (uploads.asgi); Django buffers bodies.
        # /rt/* is protocol v1 over HTTP (realtime.transport_http) where WebSocket is blocked.
        "http": HealthEndpoint(HttpTransport(TusPatchRoute(django_http))),
        # The only WebSocket route, /ws/, is checked by the realtime middleware.
        "websocket": realtime_middleware(RealtimeConsumer()),
    }
)
