"""Wire shapes of return requests (API.md, POST /eligibility and POST /returns)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from returndesk.returns.inputs import ReturnInput, ReturnLineInput


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExchangeIn(_In):
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[StrictInt, Field(ge=1, le=10_000)] = 1


class ReturnLineIn(_In):
    line_id: Annotated[str, Field(max_length=64)] = Field(
        default="", description="The order line; required unless the return rests on a receipt"
    )
    sku: Annotated[str, Field(max_length=64)] = Field(
        default="", description="For a receipt-based return (an order not in the system)"
    )
    quantity: StrictInt = Field(description="Units to return; at least 1")
    reason: Annotated[str, Field(min_length=1, max_length=50)]
    comment: Annotated[str, Field(max_length=2000)] = ""
    photo_upload_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=10
    )
    exchange_for: ExchangeIn | None = None


class GiftIn(_In):
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    recipient_email: Annotated[str, Field(min_length=3, max_length=254)]


class EligibilityIn(_In):
    order_number: Annotated[str, Field(min_length=1, max_length=64)]
    email: Annotated[str, Field(max_length=254)] = ""
    postal_code: Annotated[str, Field(max_length=20)] = ""
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=500)
    resolution: Literal["refund", "store_credit", "exchange"] = "refund"

    @model_validator(mode="after")
    def _who(self) -> EligibilityIn:
        if not self.email and not self.postal_code:
            raise ValueError("give the order's e-mail, or the shipping postal code for a gift")
        return self

    def to_input(self) -> ReturnInput:
        return ReturnInput(
            order_number=self.order_number,
            email=self.email,
            gift_postal_code=self.postal_code,
            channel="api",
            resolution="store_credit" if self.postal_code else self.resolution,
            lines=_lines(self.lines),
        )


class ReturnIn(_In):
    order_number: Annotated[str, Field(min_length=1, max_length=64)]
    email: Annotated[str, Field(max_length=254)] = ""
    gift: GiftIn | None = None
    channel: Literal["portal", "api", "phone", "email", "chat", "in_store"] = "api"
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=500)
    resolution: Literal["refund", "store_credit", "exchange"]
    proof_of_purchase_upload_id: Annotated[str, Field(max_length=40)] = ""
    note: Annotated[str, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _who(self) -> ReturnIn:
        if not self.email and self.gift is None:
            raise ValueError("give the order's e-mail, or `gift` for a gift return")
        return self

    def to_input(self) -> ReturnInput:
        return ReturnInput(
            order_number=self.order_number,
            email=self.email,
            gift_postal_code=self.gift.postal_code if self.gift else "",
            gift_recipient_email=self.gift.recipient_email if self.gift else "",
            channel=self.channel,
            resolution=self.resolution,
            lines=_lines(self.lines),
            proof_of_purchase_upload_id=self.proof_of_purchase_upload_id,
            note=self.note,
        )


def _lines(lines: list[ReturnLineIn]) -> tuple[ReturnLineInput, ...]:
    return tuple(
        ReturnLineInput(
            line_id=line.line_id,
            sku=line.sku,
            quantity=line.quantity,
            reason=line.reason,
            comment=line.comment,
            photo_upload_ids=tuple(line.photo_upload_ids),
            exchange_sku=line.exchange_for.sku if line.exchange_for else "",
            exchange_quantity=line.exchange_for.quantity if line.exchange_for else 0,
        )
        for line in lines
    )


class ActionIn(_In):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
