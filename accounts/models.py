from django.contrib.auth.models import AbstractUser
from django.db import models

DISPLAY_NAME_MAX_LENGTH = 100
# The Django group whose members (and superusers) moderate every app in the admin; each
# app grants the group its own permissions (e.g. chat.models.MODERATOR_PERMISSIONS).
MODERATORS_GROUP = "moderators"


class User(AbstractUser):
    """Django's user with a name to show to others."""

    display_name = models.CharField(max_length=DISPLAY_NAME_MAX_LENGTH, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def shown_name(self) -> str:
        return self.display_name or self.username


class Follow(models.Model):
    """`follower` follows `followee`; two follows in opposite directions make friends."""

    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following_set")
    followee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follower_set")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_unique_pair"),
            models.CheckConstraint(condition=~models.Q(follower=models.F("followee")), name="follow_not_self"),
        ]
        indexes = [models.Index(fields=["followee", "follower"], name="follow_followee_idx")]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"
