from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from realtime.inbox import InboxHandler
        from realtime.logging import protect_server_logs
        from realtime.registry import register

        protect_server_logs()

        # The inbox belongs to the core; apps add their parts to it (realtime.api.InboxPart).
        register(InboxHandler())
