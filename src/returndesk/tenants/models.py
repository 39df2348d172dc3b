from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models

from returndesk.core.models import TimeStampedModel
from returndesk.tenants.permissions import ROLE_CHOICES

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)
colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1F6FEB.")


class Provider(TimeStampedModel):
    """The return-management service provider: the installation itself (one row)."""

    name = models.CharField(max_length=200, default="ReturnDesk")
    support_email = models.EmailField(blank=True)
    share_risk_history = models.BooleanField(
        default=False,
        help_text="Let risk signals count a customer's returns across all merchants.",
    )

    @classmethod
    def current(cls) -> Provider:
        provider, _ = cls.objects.get_or_create(pk=1)
        return provider


class Merchant(TimeStampedModel):
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)
    timezone = models.CharField(max_length=64)
    locale = models.CharField(max_length=16, default="en")
    support_email = models.EmailField(blank=True)
    support_phone = models.CharField(max_length=40, blank=True)
    logo = models.FileField(upload_to="logos/", blank=True)
    brand_color = models.CharField(max_length=7, default="#1F6FEB", validators=[colour_validator])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Facility(TimeStampedModel):
    """One of the provider's return centres, with the merchants it serves."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2)
    timezone = models.CharField(max_length=64, default="UTC")
    merchants = models.ManyToManyField(Merchant, related_name="facilities", blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "facilities"

    def __str__(self) -> str:
        return self.code


class ReturnDeskUserManager(UserManager):
    use_in_migrations = True

    def _create_user(self, username, email, password, **extra_fields):
        email = self.normalize_email(email or username).lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email=None, password=None, **extra_fields):  # type: ignore[override]
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(None, email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):  # type: ignore[override]
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(None, email, password, **extra_fields)


class User(AbstractUser):
    """A staff member; signs in with an e-mail address. Shoppers have no accounts."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = ReturnDeskUserManager()  # type: ignore[misc]

    def __str__(self) -> str:
        return self.email


class Membership(TimeStampedModel):
    """A role for a user: within one merchant, or provider-wide when `merchant` is empty."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "merchant", "role"], name="membership_unique_role"
            ),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=models.Q(merchant__isnull=True),
                name="membership_unique_provider_role",
            ),
        ]


class ApiKey(TimeStampedModel):
    """A merchant key (acts inside one merchant) or a provider key (works the facilities).

    Only the SHA-256 hash of the secret is stored; `prefix` is the visible start of the key.
    """

    KIND_MERCHANT = "merchant"
    KIND_PROVIDER = "provider"

    public_id = models.CharField(max_length=40, unique=True)
    kind = models.CharField(
        max_length=16, choices=[(KIND_MERCHANT, "merchant"), (KIND_PROVIDER, "provider")]
    )
    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    facilities = models.ManyToManyField(Facility, blank=True, related_name="api_keys")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="merchant", merchant__isnull=False)
                    | models.Q(kind="provider", merchant__isnull=True)
                ),
                name="apikey_kind_matches_merchant",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
