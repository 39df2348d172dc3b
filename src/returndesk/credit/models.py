"""The store credit and gift card ledgers (docs/store-credit.md, decision 0010).

Store credit is kept per (merchant, customer e-mail, currency) in a `StoreCreditAccount`, whose
row is the lock every write takes and whose `balance_amount` is the sum of its entries.
`StoreCreditEntry` rows are append-only: what each issue, redemption, expiry, reversal or
adjustment added to the balance (signed), and the balance after it. Every credit is a
`StoreCreditLot` with its own expiry; every debit records which lots it took from
(`StoreCreditLotUse`), soonest-expiring first, so `remaining_amount` of a lot is its amount less
its uses, and the balance is the sum of what remains of the lots.

Gift cards refunded to are a `GiftCard` per (merchant, code) with append-only `GiftCardEntry`
rows. Money is in integer minor units of the row's `currency`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from returndesk.core.models import MerchantOwnedModel

ISSUE = "issue"
REDEEM = "redeem"
EXPIRE = "expire"
REVERSE = "reverse"
ADJUST = "adjust"
ENTRY_KINDS = [
    (ISSUE, _("issued")),
    (REDEEM, _("redeemed")),
    (EXPIRE, _("expired")),
    (REVERSE, _("reversed")),
    (ADJUST, _("adjusted")),
]
GIFT_CARD_CREDIT = "credit"
GIFT_CARD_ENTRY_KINDS = [(GIFT_CARD_CREDIT, _("credited"))]


class CreditSettings(MerchantOwnedModel):
    """A merchant's store credit settings; a merchant without a row uses the defaults."""

    # null: store credit never expires; otherwise it lasts to the end of the merchant's local day
    # this many days after it is issued
    store_credit_validity_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="credit_settings_per_merchant")
        ]

    def __str__(self) -> str:
        return f"credit settings of {self.merchant_id}"


class StoreCreditAccount(MerchantOwnedModel):
    public_id = models.CharField(max_length=40, unique=True)
    email = models.CharField(max_length=254)  # normalised: trimmed, lower case
    currency = models.CharField(max_length=3)
    balance_amount = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "email", "currency"], name="store_credit_account_once"
            ),
            models.CheckConstraint(
                condition=Q(balance_amount__gte=0), name="store_credit_balance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} {self.currency}"


class StoreCreditEntry(MerchantOwnedModel):
    public_id = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey(
        StoreCreditAccount, on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(max_length=10, choices=ENTRY_KINDS)
    amount = models.BigIntegerField()  # signed: what the entry added to the balance
    bonus_amount = models.BigIntegerField(default=0)  # of an issue: the part that is a bonus
    currency = models.CharField(max_length=3)
    balance_after_amount = models.BigIntegerField()
    # the caller's key for the entry (a refund id, a checkout's order id); unique per merchant,
    # so a repeated call answers the first entry
    reference = models.CharField(max_length=200)
    source = models.JSONField(default=dict, blank=True)  # of an issue: refund and return ids
    reason = models.CharField(max_length=500, blank=True)
    actor_label = models.CharField(max_length=200)

    # set on the answer of a repeated call (same reference): nothing was written
    replayed: bool = False

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "reference"], name="store_credit_reference_once"
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="store_credit_entry_not_zero"),
            models.CheckConstraint(
                condition=Q(balance_after_amount__gte=0), name="store_credit_entry_balance"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="store_credit_entries_recent")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.public_id})"


class StoreCreditLot(MerchantOwnedModel):
    """One credit (an issue or a positive adjustment) and what is left of it."""

    public_id = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey(StoreCreditAccount, on_delete=models.PROTECT, related_name="lots")
    entry = models.OneToOneField(StoreCreditEntry, on_delete=models.PROTECT, related_name="lot")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    remaining_amount = models.BigIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining_amount__gte=0) & Q(remaining_amount__lte=F("amount")),
                name="store_credit_lot_remaining",
            ),
        ]
        indexes = [
            # the expiry job reads lots with something left, by expiry
            models.Index(
                fields=["expires_at"],
                name="store_credit_lots_to_expire",
                condition=Q(remaining_amount__gt=0, expires_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.remaining_amount}/{self.amount} {self.currency} ({self.public_id})"


class StoreCreditLotUse(MerchantOwnedModel):
    """How much of a lot a debit (redemption, expiry, reversal, negative adjustment) took."""

    entry = models.ForeignKey(StoreCreditEntry, on_delete=models.PROTECT, related_name="uses")
    lot = models.ForeignKey(StoreCreditLot, on_delete=models.PROTECT, related_name="uses")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="store_credit_use_positive")
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} of lot {self.lot_id}"


class GiftCard(MerchantOwnedModel):
    public_id = models.CharField(max_length=40, unique=True)
    code = models.CharField(max_length=200)  # normalised: trimmed, upper case
    currency = models.CharField(max_length=3)
    balance_amount = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="gift_card_once"),
            models.CheckConstraint(
                condition=Q(balance_amount__gte=0), name="gift_card_balance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class GiftCardEntry(MerchantOwnedModel):
    public_id = models.CharField(max_length=40, unique=True)
    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=10, choices=GIFT_CARD_ENTRY_KINDS)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    balance_after_amount = models.BigIntegerField()
    reference = models.CharField(max_length=200)
    source = models.JSONField(default=dict, blank=True)
    actor_label = models.CharField(max_length=200)

    replayed: bool = False

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "reference"], name="gift_card_reference_once"
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="gift_card_entry_not_zero"),
        ]
        indexes = [models.Index(fields=["card", "-created_at"], name="gift_card_entries_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.public_id})"
