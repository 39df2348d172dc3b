"""Inbound tracking webhooks from carriers (docs/tracking-webhooks.md): no API key, the
carrier's signature instead."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router
from pydantic import BaseModel, Field

from returndesk.api.render import json_response
from returndesk.api.schemas import ProblemOut
from returndesk.shipping import tracking

router = Router(tags=["carriers"])


class CarrierWebhookOut(BaseModel):
    id: str = Field(description="our id for the stored delivery (the original's, if a duplicate)")
    status: str = Field(description="accepted (queued for processing) or duplicate (ignored)")


@router.post(
    "/carriers/{carrier}/webhooks",
    auth=None,
    response={
        200: CarrierWebhookOut,
        202: CarrierWebhookOut,
        401: ProblemOut,
        404: ProblemOut,
        413: ProblemOut,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "EasyPost's event (carrier `easypost`, `X-Hmac-Signature`) or the "
            "generic format (`ReturnDesk-Signature: t=...,v1=...`); see "
            "docs/tracking-webhooks.md. Signed over the raw bytes.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def carrier_webhook(request: HttpRequest, carrier: str) -> HttpResponse:
    """A carrier's tracking event. Stored raw, then processed by a task: 202 when accepted, 200
    for an event id already accepted (ignored). An unsigned, tampered or (generic format)
    stale webhook is stored as rejected and answers 401; an unknown carrier 404."""
    receipt = tracking.carrier_webhook_receive(
        carrier=carrier, body=request.body, headers=request.headers
    )
    body = {"id": receipt.id, "status": receipt.status}
    return json_response(body, 202 if receipt.status == "accepted" else 200)
