from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat import receivers
        from chat.topics import ChatHandler, InboxHandler
        from realtime.registry import register
        from realtime.signals import user_presence_changed

        register(ChatHandler())
        register(InboxHandler())
        user_presence_changed.connect(receivers.announce_presence, dispatch_uid="chat.announce_presence")
