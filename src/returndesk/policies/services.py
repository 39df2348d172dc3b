"""Publishing return policies: validated, versioned, and audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from pydantic import ValidationError

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import FieldError, ValidationFailed
from returndesk.policies.document import PolicyDocument, default_policy
from returndesk.policies.models import PolicyVersion
from returndesk.tenants.models import Merchant

_PARSED: dict[tuple[int, datetime], PolicyDocument] = {}
_PARSED_MAX = 1024


def policy_document(version: PolicyVersion) -> PolicyDocument:
    """The parsed document of a published version. Versions never change, so each is parsed
    once per process (return creation asks for it on every request)."""
    key = (version.pk, version.created_at)  # the time too: a rolled-back id can come back
    parsed = _PARSED.get(key)
    if parsed is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        parsed = _PARSED[key] = PolicyDocument.model_validate(version.document)
    return parsed


def policy_parse(document: Any) -> PolicyDocument:
    """A policy document, validated; every problem is a 422 naming its field."""
    try:
        return PolicyDocument.model_validate(document)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            path = ""
            for part in error["loc"]:
                path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
            message = (
                "is not a field of a policy" if error["type"] == "extra_forbidden" else error["msg"]
            )
            errors.append(FieldError(path or "policy", message))
        raise ValidationFailed(
            "The policy is invalid: " + "; ".join(f"{e.field}: {e.message}" for e in errors),
            errors=errors,
        ) from None


def policy_ensure_default(*, merchant: Merchant) -> PolicyVersion:
    """Version 1, the default policy, for a merchant that has none: returns work at once."""
    current = PolicyVersion.objects.filter(merchant=merchant).order_by("-version").first()
    if current is not None:
        return current
    try:
        with transaction.atomic():
            return PolicyVersion.objects.create(
                merchant=merchant,
                version=1,
                document=default_policy().model_dump(mode="json"),
                published_by="default policy",
            )
    except IntegrityError:  # another request made it first
        return PolicyVersion.objects.get(merchant=merchant, version=1)


@transaction.atomic
def policy_publish(
    *, actor: Actor, merchant: Merchant, document: Any, note: str = ""
) -> PolicyVersion:
    """Validate a policy document and publish it as the merchant's next version."""
    parsed = policy_parse(document)
    policy_ensure_default(merchant=merchant)
    current = (
        PolicyVersion.objects.select_for_update()
        .filter(merchant=merchant)
        .order_by("-version")
        .first()
    )
    assert current is not None
    published = PolicyVersion.objects.create(
        merchant=merchant,
        version=current.version + 1,
        document=parsed.model_dump(mode="json"),
        published_by=actor.label,
        note=note,
    )
    audit_record(
        actor=actor,
        action="policy.published",
        object_type="policy",
        object_ref=f"v{published.version}",
        merchant_id=merchant.pk,
        changes={"from_version": current.version, "to_version": published.version},
    )
    return published
