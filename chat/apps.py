from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from accounts.signals import friendship_ended, friendship_formed
        from chat import receivers
        from chat.topics import ChatHandler, ChatInboxPart
        from realtime.api import register, register_inbox_part, user_presence_changed

        register(ChatHandler())
        register_inbox_part(ChatInboxPart())
        user_presence_changed.connect(receivers.announce_presence, dispatch_uid="chat.announce_presence")
        friendship_formed.connect(receivers.refresh_unread_of_pair, dispatch_uid="chat.unread_on_friendship_formed")
        friendship_ended.connect(receivers.refresh_unread_of_pair, dispatch_uid="chat.unread_on_friendship_ended")
        post_migrate.connect(receivers.ensure_moderators_group, sender=self, dispatch_uid="chat.moderators_group")
