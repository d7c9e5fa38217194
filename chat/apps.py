from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from chat import receivers
        from chat.topics import ChatHandler, InboxHandler
        from realtime.registry import register
        from realtime.signals import user_presence_changed

        register(ChatHandler())
        register(InboxHandler())
        user_presence_changed.connect(receivers.announce_presence, dispatch_uid="chat.announce_presence")
        post_migrate.connect(receivers.ensure_moderators_group, sender=self, dispatch_uid="chat.moderators_group")
