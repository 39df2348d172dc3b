"""Wire shapes of receiving requests (API.md, POST /receipts, PUT /receipts/{id},
POST /unidentified-packages/{id}/link; and PUT /unidentified-packages/{id})."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from returndesk.warehouse.models import PACKAGE_CONDITIONS
from returndesk.warehouse.services import ExtraItem, LineCount, WrongItem


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanIn(_In):
    code: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="What the scanner read: a tracking number, a drop-off code or a RAN"
    )
    facility: Annotated[str, Field(min_length=1, max_length=20)] = Field(
        description="The facility's code"
    )


class LineCountIn(_In):
    line_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The order's line id, or the receipt line's id (rcl_...)"
    )
    quantity: Annotated[StrictInt, Field(ge=0, le=10_000)]

    def to_input(self) -> LineCount:
        return LineCount(line_id=self.line_id, quantity=self.quantity)


class ExtraItemIn(_In):
    description: Annotated[str, Field(max_length=300)] = ""
    sku: Annotated[str, Field(max_length=64)] = ""
    quantity: Annotated[StrictInt, Field(ge=1, le=10_000)] = 1

    def to_input(self) -> ExtraItem:
        return ExtraItem(description=self.description, quantity=self.quantity, sku=self.sku)


class WrongItemIn(_In):
    line_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The line whose unit came back as something else"
    )
    description: Annotated[str, Field(min_length=1, max_length=300)]
    sku: Annotated[str, Field(max_length=64)] = ""

    def to_input(self) -> WrongItem:
        return WrongItem(line_id=self.line_id, description=self.description, sku=self.sku)


class ReceiptIn(_In):
    lines: list[LineCountIn] = Field(
        default_factory=list,
        max_length=500,
        description="Received units per line; a line not given received nothing",
    )
    extra_items: list[ExtraItemIn] = Field(default_factory=list, max_length=50)
    missing: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=500,
        description="Lines with units missing (optional: fewer units than expected are missing "
        "anyway; naming a complete line is an error)",
    )
    wrong_item: WrongItemIn | None = None
    package_condition: str = Field(
        default="intact", description=f"One of {', '.join(PACKAGE_CONDITIONS)}"
    )
    weight_grams: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None
    photo_upload_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    notes: Annotated[str, Field(max_length=4000)] = ""


class LinkIn(_In):
    ran: Annotated[str, Field(min_length=1, max_length=40)]


class PackageIn(_In):
    """What the worker saw on a package that matched nothing: replaces the notes and photos."""

    notes: Annotated[str, Field(max_length=4000)] = ""
    photo_upload_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list,
        max_length=20,
        description="Photos uploaded with `facility` (POST /uploads) at the package's facility",
    )
