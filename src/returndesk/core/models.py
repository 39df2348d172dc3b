from __future__ import annotations

from django.conf import settings
from django.db import models
from django_scopes import ScopedManager


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class MerchantOwnedModel(TimeStampedModel):
    """A row that belongs to one merchant. Its default manager only answers inside a scope
    (`core.tenancy.merchant_scope`), so a query that forgot the tenant fails loudly."""

    merchant = models.ForeignKey("tenants.Merchant", on_delete=models.PROTECT, db_index=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        abstract = True


class IdempotencyRecord(models.Model):
    """The stored answer to a POST made with an Idempotency-Key, per credential, for 24 hours."""

    credential = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(
        max_length=16, choices=[("in_progress", "in progress"), ("completed", "completed")]
    )
    locked_until = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    # The answer carried a secret (Cache-Control: no-store): the body is kept encrypted
    # (core.secrets) and replayed with no-store again.
    sealed = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["credential", "key"], name="idempotency_once_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.credential}/{self.key}"


class PeriodicJobState(models.Model):
    """When each periodic job of the worker last ran and next runs; claimed with a lease so
    that with several workers a job runs once per interval."""

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    run_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class AuditLogEntry(models.Model):
    """A staff or configuration action: who, what, on which object, with before/after."""

    merchant = models.ForeignKey(
        "tenants.Merchant", null=True, blank=True, on_delete=models.SET_NULL, db_index=True
    )
    actor_label = models.CharField(max_length=200)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_ref = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # the audit log page reads one merchant's entries newest first
        indexes = [models.Index(fields=["merchant", "-created_at"], name="audit_merchant_recent")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_ref}"


class Upload(MerchantOwnedModel):
    """A photo or a proof of purchase sent by a shopper, an agent or a station. Stored only
    after its content was checked and re-encoded without metadata (`core/uploads.py`).

    Exactly one owner: a merchant, or a facility for the photos of a package nobody could match
    yet (an unidentified package has no merchant). A facility's photo is invisible inside every
    merchant scope (the scoped manager filters on `merchant`); when its package is linked to a
    return, ownership moves to that return's merchant (`uploads_transfer`).
    docs/decisions/0010-facility-photos-risk-findings-inventory-api.md.
    """

    PURPOSES = [("photo", "photo"), ("receipt", "proof of purchase")]

    # Nullable here only (one owner: see `upload_one_owner`); the scoped manager is unchanged.
    merchant = models.ForeignKey(  # type: ignore[assignment]
        "tenants.Merchant", null=True, blank=True, on_delete=models.PROTECT, db_index=True
    )
    facility = models.ForeignKey(
        "tenants.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    public_id = models.CharField(max_length=40, unique=True)
    purpose = models.CharField(max_length=20, choices=PURPOSES)
    file = models.FileField(upload_to="uploads/%Y/%m/")
    content_type = models.CharField(max_length=50)
    size_bytes = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(merchant__isnull=False, facility__isnull=True)
                    | models.Q(merchant__isnull=True, facility__isnull=False)
                ),
                name="upload_one_owner",
            )
        ]

    def __str__(self) -> str:
        return self.public_id


class RateLimitCounter(models.Model):
    """Requests counted per scope, key (hashed) and fixed window, shared by every process."""

    scope = models.CharField(max_length=50)
    key_hash = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key_hash", "window_start"], name="rate_limit_window_once"
            )
        ]
        indexes = [models.Index(fields=["window_start"], name="rate_limit_window")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key_hash[:8]} {self.count}"
