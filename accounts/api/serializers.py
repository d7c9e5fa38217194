"""Request and response shapes of the accounts API. No logic: services do the writing."""

from rest_framework import serializers

from accounts.models import DISPLAY_NAME_MAX_LENGTH, User


class PublicUserSerializer(serializers.ModelSerializer):
    """The public user object: id, username and display name, never the email.

    Same keys as `accounts.selectors.user_public`, which realtime code uses instead.
    """

    class Meta:
        model = User
        fields = ["id", "username", "display_name"]
        read_only_fields = fields


class UserListItemSerializer(PublicUserSerializer):
    """A user as the signed-in viewer sees them: public fields and the follow relationship.

    Serialises users annotated by the `accounts.selectors.user_list*` selectors.
    """

    is_followed = serializers.BooleanField(read_only=True, help_text="You follow this user.")
    follows_you = serializers.BooleanField(read_only=True, help_text="This user follows you.")
    is_friend = serializers.BooleanField(read_only=True, help_text="You follow each other.")

    class Meta(PublicUserSerializer.Meta):
        fields = [*PublicUserSerializer.Meta.fields, "is_followed", "follows_you", "is_friend"]
        read_only_fields = fields


class UserMeSerializer(serializers.ModelSerializer):
    """The signed-in user's own profile, email included."""

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "email", "date_joined"]
        read_only_fields = fields


class UserMeUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(
        required=False, allow_blank=True, max_length=DISPLAY_NAME_MAX_LENGTH, trim_whitespace=True
    )


class UserSearchSerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=150, help_text="Prefix of a username or display name."
    )


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    display_name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=DISPLAY_NAME_MAX_LENGTH
    )


class RegisterResultSerializer(serializers.Serializer):
    user = UserMeSerializer()
    access = serializers.CharField(help_text="JWT access token.")
    refresh = serializers.CharField(help_text="JWT refresh token.")
