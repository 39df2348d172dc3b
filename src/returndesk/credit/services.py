"""Writing to the store credit and gift card ledgers (docs/store-credit.md).

Every write locks the ledger's account row (`select_for_update`), so concurrent redemptions of
one customer's credit queue behind each other and none can spend what another already took.
Every write is idempotent on its `reference` (unique per merchant): a repeated call with the
same reference and the same figures answers the first entry, marked `replayed`, and writes
nothing; the same reference for something else is 409 `reference_conflict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.catalog.services import normalize_email
from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.core.money import Money, MoneyError, validate_currency
from returndesk.core.tenancy import merchant_scope
from returndesk.credit.models import (
    ADJUST,
    EXPIRE,
    GIFT_CARD_CREDIT,
    ISSUE,
    REDEEM,
    REVERSE,
    CreditSettings,
    GiftCard,
    GiftCardEntry,
    StoreCreditAccount,
    StoreCreditEntry,
    StoreCreditLot,
    StoreCreditLotUse,
)
from returndesk.credit.selectors import credit_settings_for, customer_known, normalize_code
from returndesk.notifications.services import outbox_enqueue
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Merchant

MAX_AMOUNT = 10**12  # ten billion in a two-decimal currency: anything above is a mistake
MAX_VALIDITY_DAYS = 3650
EXPIRY_ACTOR = Actor.system("store credit expiry")


class InsufficientStoreCredit(Conflict):
    code = "insufficient_store_credit"
    title = "Insufficient store credit"


class CurrencyMismatch(Conflict):
    code = "currency_mismatch"
    title = "Currency mismatch"


class ReferenceConflict(Conflict):
    code = "reference_conflict"
    title = "Reference already used"


class NothingToReverse(Conflict):
    code = "nothing_to_reverse"
    title = "Nothing to reverse"


# --- input checks -------------------------------------------------------------------------------


def _amount(value: Any, field: str, *, signed: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed.on(field, "is an integer amount in minor units")
    if value == 0 or (value < 0 and not signed):
        raise ValidationFailed.on(field, "must not be zero" if signed else "must be more than zero")
    if abs(value) > MAX_AMOUNT:
        raise ValidationFailed.on(field, f"must be at most {MAX_AMOUNT}")
    return value


def _currency(value: Any) -> str:
    try:
        return validate_currency(value)
    except MoneyError as exc:
        raise ValidationFailed.on("currency", str(exc)) from None


def _reference(value: Any, field: str = "reference") -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= 200:
        raise ValidationFailed.on(field, "must be 1 to 200 characters")
    return text


def _email(value: Any) -> str:
    email = normalize_email(value) if isinstance(value, str) else ""
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed.on("email", "is not a valid e-mail address") from None
    return email


def _reason(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationFailed.on("reason", "is required: say why")
    if len(text) > 500:
        raise ValidationFailed.on("reason", "must be at most 500 characters")
    return text


def _source(value: Mapping[str, Any] | None) -> dict[str, str | None]:
    """The ids an issue came from (refund, return, RAN), as strings: never foreign keys."""
    source: dict[str, str | None] = {}
    for key, item in (value or {}).items():
        if not isinstance(key, str) or not (item is None or isinstance(item, str)):
            raise ValidationFailed.on("source", "maps names to string ids")
        source[key] = item
    return source


def _money_text(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


# --- store credit -------------------------------------------------------------------------------


def store_credit_expiry(*, merchant: Merchant, issued_at: datetime) -> datetime | None:
    """When credit issued at `issued_at` expires: the end of the merchant's local day that many
    days later (`CreditSettings.store_credit_validity_days`), in UTC; None when it never does."""
    days = credit_settings_for(merchant=merchant).store_credit_validity_days
    if days is None:
        return None
    zone = ZoneInfo(merchant.timezone)
    last_day = issued_at.astimezone(zone).date() + timedelta(days=days)
    next_midnight = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)
    return next_midnight.astimezone(UTC) - timedelta(microseconds=1)


def _lock(
    merchant: Merchant, email: str, currency: str, *, create: bool
) -> StoreCreditAccount | None:
    """The customer's account in `currency`, locked for this transaction (created first when
    `create`); None when there is none and `create` is false."""
    if create:
        StoreCreditAccount.objects.get_or_create(
            merchant=merchant,
            email=email,
            currency=currency,
            defaults={"public_id": new_public_id("sca")},
        )
    return (
        StoreCreditAccount.objects.select_for_update()
        .filter(merchant=merchant, email=email, currency=currency)
        .first()
    )


def _replayed(
    reference: str, *, kind: str, account: StoreCreditAccount | None, amount: int | None
) -> StoreCreditEntry | None:
    """The entry written before with `reference`, when it is the same operation; a conflict
    when the reference names something else. Called with the account locked."""
    entry = StoreCreditEntry.objects.filter(reference=reference).first()
    if entry is None:
        return None
    same = (
        entry.kind == kind
        and account is not None
        and entry.account_id == account.pk
        and (amount is None or entry.amount == amount)
    )
    if not same:
        raise ReferenceConflict(
            f"The reference '{reference}' was used for another store credit entry "
            f"({entry.kind}, {_money_text(entry.amount, entry.currency)}); use a new reference."
        )
    entry.replayed = True
    return entry


@contextmanager
def _reference_taken_meanwhile(reference: str) -> Iterator[None]:
    """A savepoint around an entry's insert: a reference another request took since it was
    checked (for another account or card) fails this write alone, as a conflict."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise ReferenceConflict(
            f"The reference '{reference}' was just used for another entry; use a new reference."
        ) from None


def _write(
    account: StoreCreditAccount,
    *,
    kind: str,
    amount: int,
    reference: str,
    actor: Actor,
    bonus: int = 0,
    source: dict[str, Any] | None = None,
    reason: str = "",
) -> StoreCreditEntry:
    """Append an entry and move the locked account's balance by `amount`."""
    balance = account.balance_amount + amount
    with _reference_taken_meanwhile(reference):
        entry = StoreCreditEntry.objects.create(
            merchant_id=account.merchant_id,
            public_id=new_public_id("sce"),
            account=account,
            kind=kind,
            amount=amount,
            bonus_amount=bonus,
            currency=account.currency,
            balance_after_amount=balance,
            reference=reference,
            source=source or {},
            reason=reason,
            actor_label=actor.label,
        )
    account.balance_amount = balance
    account.save(update_fields=["balance_amount", "updated_at"])
    return entry


def _add_lot(
    account: StoreCreditAccount, entry: StoreCreditEntry, expires_at: datetime | None
) -> StoreCreditLot:
    return StoreCreditLot.objects.create(
        merchant_id=account.merchant_id,
        public_id=new_public_id("scl"),
        account=account,
        entry=entry,
        currency=account.currency,
        amount=entry.amount,
        remaining_amount=entry.amount,
        expires_at=expires_at,
    )


def _take(entry: StoreCreditEntry, lots: Iterable[StoreCreditLot], amount: int) -> None:
    """Take `amount` from `lots` in their order, recording what came from each."""
    left = amount
    for lot in lots:
        if left == 0:
            break
        part = min(left, lot.remaining_amount)
        if part <= 0:
            continue
        StoreCreditLot.objects.filter(pk=lot.pk).update(
            remaining_amount=F("remaining_amount") - part, updated_at=timezone.now()
        )
        lot.remaining_amount -= part
        StoreCreditLotUse.objects.create(
            merchant_id=entry.merchant_id,
            entry=entry,
            lot=lot,
            amount=part,
            currency=entry.currency,
        )
        left -= part
    if left:  # the callers check the balance first; this is the ledger's own guard
        raise InsufficientStoreCredit("The lots do not cover this amount.")


def _spendable_lots(account: StoreCreditAccount, now: datetime) -> list[StoreCreditLot]:
    """Open lots of the locked account, soonest expiry first (never-expiring last)."""
    return list(
        StoreCreditLot.objects.filter(account=account, remaining_amount__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by(F("expires_at").asc(nulls_last=True), "created_at", "pk")
    )


def _expire_lots(account: StoreCreditAccount, *, now: datetime) -> int:
    """Write an `expire` entry for what is left of each lot of the locked account that expired
    by `now`; answers how many. Safe to repeat: an expired lot has nothing left."""
    due = (
        StoreCreditLot.objects.filter(account=account, remaining_amount__gt=0, expires_at__lte=now)
        .select_related("entry")
        .order_by("expires_at", "pk")
    )
    count = 0
    for lot in due:
        entry = _write(
            account,
            kind=EXPIRE,
            amount=-lot.remaining_amount,
            reference=f"expiry:{lot.public_id}",
            actor=EXPIRY_ACTOR,
            source={"lot": lot.public_id, "entry": lot.entry.public_id},
            reason=f"expired at {lot.expires_at.isoformat() if lot.expires_at else ''}",
        )
        _take(entry, [lot], lot.remaining_amount)
        count += 1
    return count


def _require_funds(account: StoreCreditAccount, amount: int, email: str) -> None:
    if account.balance_amount < amount:
        raise InsufficientStoreCredit(
            f"{email} has {_money_text(account.balance_amount, account.currency)} of store "
            f"credit; {_money_text(amount, account.currency)} is more than that."
        )


def store_credit_issue(
    *,
    merchant: Merchant,
    email: str,
    currency: str,
    amount: int,
    bonus: int = 0,
    reference: str,
    source: Mapping[str, str | None] | None,
    actor: Actor,
) -> StoreCreditEntry:
    """Credit a customer `amount + bonus` (minor units): `amount` is the refunded money, `bonus`
    the merchant's extra, shown separately. One lot, expiring per the merchant's setting.
    Idempotent on `reference` (the refund's public id). Writes `store_credit.issued`."""
    email = _email(email)
    currency = _currency(currency)
    amount = _amount(amount, "amount")
    if isinstance(bonus, bool) or not isinstance(bonus, int) or not 0 <= bonus <= MAX_AMOUNT:
        raise ValidationFailed.on("bonus", "is an integer amount in minor units, 0 or more")
    reference = _reference(reference)
    clean_source = _source(source)
    with transaction.atomic(), merchant_scope(merchant):
        account = _lock(merchant, email, currency, create=True)
        assert account is not None
        replay = _replayed(reference, kind=ISSUE, account=account, amount=amount + bonus)
        if replay is not None:
            return replay
        now = timezone.now()
        _expire_lots(account, now=now)
        entry = _write(
            account,
            kind=ISSUE,
            amount=amount + bonus,
            bonus=bonus,
            reference=reference,
            source=clean_source,
            actor=actor,
        )
        lot = _add_lot(account, entry, store_credit_expiry(merchant=merchant, issued_at=now))
        outbox_enqueue(
            merchant_id=merchant.pk,
            type="store_credit.issued",
            event_id=entry.public_id,
            at=entry.created_at,
            data={
                "email": email,
                "amount": Money(entry.amount, currency).as_dict(),
                "bonus": Money(bonus, currency).as_dict(),
                "balance": Money(entry.balance_after_amount, currency).as_dict(),
                "currency": currency,
                "expires_at": lot.expires_at.isoformat() if lot.expires_at else None,
                "reference": reference,
                "source": clean_source,
            },
        )
    return entry


def _debit_account(merchant: Merchant, email: str, currency: str) -> StoreCreditAccount:
    """The locked account a debit takes from: 404 for a customer the merchant does not know,
    `currency_mismatch` when their credit is in other currencies."""
    account = _lock(merchant, email, currency, create=False)
    if account is not None:
        return account
    if not customer_known(merchant=merchant, email=email):
        raise NotFound("There is no such customer.")
    held = sorted(
        StoreCreditAccount.objects.filter(merchant=merchant, email=email)
        .exclude(balance_amount=0)
        .values_list("currency", flat=True)
    )
    if held:
        raise CurrencyMismatch(
            f"{email} holds store credit in {', '.join(held)}, not in {currency}."
        )
    raise InsufficientStoreCredit(f"{email} has no store credit in {currency}.")


def store_credit_redeem(
    *,
    merchant: Merchant,
    email: str,
    currency: str,
    amount: int,
    reference: str,
    actor: Actor,
) -> StoreCreditEntry:
    """Spend `amount` of a customer's store credit at the merchant's checkout, soonest-expiring
    credit first. Idempotent on `reference` (the checkout's order id). 409
    `insufficient_store_credit` beyond the balance, `currency_mismatch` for a currency the
    customer holds no credit in; 404 for a customer the merchant does not know."""
    email = normalize_email(email) if isinstance(email, str) else ""
    currency = _currency(currency)
    amount = _amount(amount, "amount")
    reference = _reference(reference)
    with transaction.atomic(), merchant_scope(merchant):
        account = _debit_account(merchant, email, currency)
        replay = _replayed(reference, kind=REDEEM, account=account, amount=-amount)
        if replay is not None:
            return replay
        now = timezone.now()
        _expire_lots(account, now=now)
        _require_funds(account, amount, email)
        entry = _write(account, kind=REDEEM, amount=-amount, reference=reference, actor=actor)
        _take(entry, _spendable_lots(account, now), amount)
    return entry


def store_credit_adjust(
    *,
    merchant: Merchant,
    email: str,
    currency: str,
    amount: int,
    reason: str,
    reference: str,
    actor: Actor,
) -> StoreCreditEntry:
    """A staff correction with a reason, audit-logged: a positive `amount` credits a new lot
    (expiring per the merchant's setting), a negative one takes from the soonest-expiring
    credit, never below zero. Idempotent on `reference`."""
    if not actor.can(perm.STORE_CREDIT_ADJUST):
        raise PermissionDenied("Your role may not adjust store credit.")
    currency = _currency(currency)
    amount = _amount(amount, "amount", signed=True)
    reason = _reason(reason)
    reference = _reference(reference)
    if amount > 0:
        email = _email(email)
    else:
        email = normalize_email(email) if isinstance(email, str) else ""
    with transaction.atomic(), merchant_scope(merchant):
        if amount > 0:
            account = _lock(merchant, email, currency, create=True)
            assert account is not None
        else:
            account = _debit_account(merchant, email, currency)
        replay = _replayed(reference, kind=ADJUST, account=account, amount=amount)
        if replay is not None:
            return replay
        now = timezone.now()
        _expire_lots(account, now=now)
        before = account.balance_amount
        if amount < 0:
            _require_funds(account, -amount, email)
        entry = _write(
            account, kind=ADJUST, amount=amount, reference=reference, reason=reason, actor=actor
        )
        if amount > 0:
            _add_lot(account, entry, store_credit_expiry(merchant=merchant, issued_at=now))
        else:
            _take(entry, _spendable_lots(account, now), -amount)
        _audit(actor, "store_credit.adjusted", account, entry, before, reason)
    return entry


def store_credit_reverse(
    *,
    merchant: Merchant,
    issue_reference: str,
    amount: int | None = None,
    reason: str,
    reference: str,
    actor: Actor,
) -> StoreCreditEntry:
    """Take back what is left of one credit (the issue or positive adjustment written with
    `issue_reference`), or `amount` of it: what was spent stays spent. Audit-logged; idempotent
    on `reference`; 409 `nothing_to_reverse` when nothing is left of it."""
    if not actor.can(perm.STORE_CREDIT_ADJUST):
        raise PermissionDenied("Your role may not reverse store credit.")
    issue_reference = _reference(issue_reference, "issue_reference")
    if amount is not None:
        amount = _amount(amount, "amount")
    reason = _reason(reason)
    reference = _reference(reference)
    with transaction.atomic(), merchant_scope(merchant):
        credit = StoreCreditEntry.objects.filter(reference=issue_reference, amount__gt=0).first()
        if credit is None:
            raise NotFound("No store credit was issued with this reference.")
        account = StoreCreditAccount.objects.select_for_update().get(pk=credit.account_id)
        replay = _replayed(
            reference, kind=REVERSE, account=account, amount=None if amount is None else -amount
        )
        if replay is not None:
            return replay
        _expire_lots(account, now=timezone.now())
        lot = StoreCreditLot.objects.get(entry=credit)
        take = lot.remaining_amount if amount is None else amount
        if lot.remaining_amount == 0:
            raise NothingToReverse("Nothing is left of this credit: it was spent or expired.")
        if take > lot.remaining_amount:
            raise InsufficientStoreCredit(
                f"Only {_money_text(lot.remaining_amount, lot.currency)} is left of this credit."
            )
        before = account.balance_amount
        entry = _write(
            account,
            kind=REVERSE,
            amount=-take,
            reference=reference,
            reason=reason,
            source={"entry": credit.public_id, "reference": credit.reference},
            actor=actor,
        )
        _take(entry, [lot], take)
        _audit(actor, "store_credit.reversed", account, entry, before, reason)
    return entry


def _audit(
    actor: Actor,
    action: str,
    account: StoreCreditAccount,
    entry: StoreCreditEntry,
    before: int,
    reason: str,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="store_credit_account",
        object_ref=account.public_id,
        merchant_id=account.merchant_id,
        changes={
            "entry": entry.public_id,
            "amount": _money_text(entry.amount, entry.currency),
            "balance": {
                "from": _money_text(before, entry.currency),
                "to": _money_text(entry.balance_after_amount, entry.currency),
            },
            "reason": reason,
        },
    )


def store_credit_expire_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """Expire what is left of every lot past its expiry, for every merchant (a periodic job).
    Safe to run twice and on two workers: each account is locked, and a lot expired once has
    nothing left to expire. Answers the number of expire entries written."""
    now = now or timezone.now()
    written = 0
    with scopes_disabled():  # a provider-wide job: every merchant's ledgers
        for _round in range(20):  # at most 20 batches a run; the next run takes the rest
            due = list(
                StoreCreditAccount.objects.filter(
                    lots__remaining_amount__gt=0, lots__expires_at__lte=now
                )
                .values_list("pk", flat=True)
                .distinct()
                .order_by("pk")[:batch]
            )
            if not due:
                break
            for pk in due:
                with transaction.atomic():
                    account = StoreCreditAccount.objects.select_for_update().get(pk=pk)
                    written += _expire_lots(account, now=now)
    return written


# --- gift cards ---------------------------------------------------------------------------------


def gift_card_credit(
    *,
    merchant: Merchant,
    code: str,
    currency: str,
    amount: int,
    reference: str,
    source: Mapping[str, str | None] | None,
    actor: Actor,
) -> GiftCardEntry:
    """Refund `amount` back to a gift card tender (by its code, compared without case);
    idempotent on `reference`. A card holds one currency: another is `currency_mismatch`."""
    card_code = normalize_code(code) if isinstance(code, str) else ""
    if not 1 <= len(card_code) <= 200:
        raise ValidationFailed.on("code", "must be 1 to 200 characters")
    currency = _currency(currency)
    amount = _amount(amount, "amount")
    reference = _reference(reference)
    clean_source = _source(source)
    with transaction.atomic(), merchant_scope(merchant):
        GiftCard.objects.get_or_create(
            merchant=merchant,
            code=card_code,
            defaults={"public_id": new_public_id("gc"), "currency": currency},
        )
        card = GiftCard.objects.select_for_update().get(merchant=merchant, code=card_code)
        earlier = GiftCardEntry.objects.filter(reference=reference).first()
        if earlier is not None:
            if earlier.card_id != card.pk or earlier.amount != amount:
                raise ReferenceConflict(
                    f"The reference '{reference}' was used for another gift card credit; "
                    "use a new reference."
                )
            earlier.replayed = True
            return earlier
        if card.currency != currency:
            raise CurrencyMismatch(f"This gift card holds {card.currency}, not {currency}.")
        balance = card.balance_amount + amount
        with _reference_taken_meanwhile(reference):
            entry = GiftCardEntry.objects.create(
                merchant=merchant,
                public_id=new_public_id("gce"),
                card=card,
                kind=GIFT_CARD_CREDIT,
                amount=amount,
                currency=currency,
                balance_after_amount=balance,
                reference=reference,
                source=clean_source,
                actor_label=actor.label,
            )
        card.balance_amount = balance
        card.save(update_fields=["balance_amount", "updated_at"])
    return entry


# --- settings -----------------------------------------------------------------------------------


def credit_settings_update(
    *, merchant: Merchant, store_credit_validity_days: int | None, actor: Actor
) -> CreditSettings:
    """Set how long new store credit lasts (None: it never expires). Credit already issued
    keeps its expiry. Audit-logged."""
    days = store_credit_validity_days
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_VALIDITY_DAYS
    ):
        raise ValidationFailed.on(
            "store_credit_validity_days",
            f"is a whole number of days from 1 to {MAX_VALIDITY_DAYS}, or empty for never",
        )
    with transaction.atomic(), merchant_scope(merchant):
        row, _ = CreditSettings.objects.select_for_update().get_or_create(merchant=merchant)
        before = row.store_credit_validity_days
        row.store_credit_validity_days = days
        row.save()
        if before != days:
            audit_record(
                actor=actor,
                action="credit_settings.saved",
                object_type="credit_settings",
                object_ref=str(merchant.pk),
                merchant_id=merchant.pk,
                changes={"store_credit_validity_days": {"from": before, "to": days}},
            )
    return row
