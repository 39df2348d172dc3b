"""Photos of a package that matched nothing: a station uploads them for its facility (the
package has no merchant yet), puts them on the unidentified-package record with notes, and when
the package is linked to its return they go to that return's merchant, and to nobody else."""

from __future__ import annotations

from typing import Any

import pytest
from django_scopes import scopes_disabled

from returndesk.core.errors import ValidationFailed
from returndesk.core.models import AuditLogEntry, Upload
from returndesk.core.tenancy import merchant_scope
from returndesk.core.uploads import uploads_check
from returndesk.tenants.models import Facility, Merchant
from returndesk.tenants.services import apikey_create
from tests.conftest import ACTOR, ApiClient
from tests.factories import make_facility
from tests.returns.test_uploads import _named, photo_with_gps, upload
from tests.warehouse.conftest import scan
from tests.warehouse.test_station_photos import station_upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


def facility_upload(station: ApiClient, facility: str = "FAC1", **extra: str) -> Any:
    return station.client.post(
        "/api/v1/uploads",
        {"facility": facility, "file": _named(photo_with_gps(), "box.jpg"), **extra},
        headers={"Authorization": f"Bearer {station.key}"},
    )


def stored(public_id: str) -> Upload:
    with scopes_disabled():
        return Upload.objects.select_related("facility").get(public_id=public_id)


def test_a_station_photographs_a_package_that_matched_nothing(
    station: ApiClient, merchant: Merchant
) -> None:
    package = scan(station, "NO-LABEL-1").json()["unidentified_package"]
    response = facility_upload(station)
    assert response.status_code == 201, response.content
    photo = response.json()["upload_id"]
    kept = stored(photo)
    assert kept.merchant_id is None and kept.facility.code == "FAC1"
    assert b"CameraMaker" not in kept.file.read()  # checked and stripped like any upload
    with merchant_scope(merchant):  # no merchant's scope has it
        assert not Upload.objects.filter(public_id=photo).exists()

    body = {"notes": " Blue box, sender smudged ", "photo_upload_ids": [photo]}
    put = station.put(f"/unidentified-packages/{package['id']}", body)
    assert put.status_code == 200, put.content
    assert (put.json()["notes"], put.json()["photo_upload_ids"]) == (
        "Blue box, sender smudged",
        [photo],
    )
    assert station.get(f"/unidentified-packages/{package['id']}").json() == put.json()
    audited = AuditLogEntry.objects.filter(action="unidentified_package.annotated").count()
    assert station.put(f"/unidentified-packages/{package['id']}", body).json() == put.json()
    assert AuditLogEntry.objects.filter(action="unidentified_package.annotated").count() == audited


def test_linking_hands_the_photos_to_the_returns_merchant_only(
    station: ApiClient,
    api: ApiClient,
    outsider_api: ApiClient,
    authorized: dict[str, Any],
    merchant: Merchant,
    other_merchant: Merchant,
) -> None:
    package = scan(station, "NO-LABEL-2").json()["unidentified_package"]
    photo = facility_upload(station).json()["upload_id"]
    body = {"notes": "Shoes inside", "photo_upload_ids": [photo]}
    assert station.put(f"/unidentified-packages/{package['id']}", body).status_code == 200
    linked = station.post(
        f"/unidentified-packages/{package['id']}/link", {"ran": authorized["ran"]}
    )
    assert linked.status_code == 201, linked.content
    kept = stored(photo)
    assert (kept.merchant_id, kept.facility_id) == (merchant.pk, None)

    ret = api.get(f"/returns/{authorized['ran']}").json()
    [shown] = ret["unidentified_packages"]
    assert (shown["id"], shown["notes"], shown["photo_upload_ids"]) == (
        package["id"],
        "Shoes inside",
        [photo],
    )
    assert shown["ran"] == authorized["ran"]
    # The merchant may reference the photo like its own; the other merchant sees nothing.
    with merchant_scope(merchant):
        uploads_check(merchant_id=merchant.pk, ids=[photo], purpose="photo", field="photos")
    with merchant_scope(other_merchant), pytest.raises(ValidationFailed):
        uploads_check(merchant_id=other_merchant.pk, ids=[photo], purpose="photo", field="photos")
    with merchant_scope(other_merchant):
        assert not Upload.objects.filter(public_id=photo).exists()
    assert outsider_api.get(f"/returns/{authorized['ran']}").status_code == 404

    # Linked: its notes and photos are the return's now, recorded on the receipt.
    again = station.put(f"/unidentified-packages/{package['id']}", body)
    assert again.status_code == 409 and again.json()["code"] == "already_linked"


def test_photos_are_only_for_the_keys_facilities_and_the_package_s_own(
    station: ApiClient, authorized: dict[str, Any], merchant: Merchant
) -> None:
    make_facility(merchant, code="FAC2", name="Facility two")
    assert facility_upload(station, "FAC2").status_code == 404  # not one of the key's
    assert facility_upload(station, "NOPE").status_code == 404
    both = facility_upload(station, ran=authorized["ran"])
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "facility"
    receipt_only = facility_upload(station, purpose="receipt")
    assert receipt_only.status_code == 422

    package = scan(station, "NO-LABEL-3").json()["unidentified_package"]
    # A photo of a return (the merchant's) is not the package's; nor is another facility's.
    returns_photo = station_upload(station, authorized["ran"]).json()["upload_id"]
    _, key = apikey_create(actor=ACTOR, name="fac2", facility_codes=["FAC2"])
    elsewhere = ApiClient(key)
    fac2_photo = facility_upload(elsewhere, "FAC2").json()["upload_id"]
    for wrong in (returns_photo, fac2_photo, "upl_unknown"):
        put = station.put(f"/unidentified-packages/{package['id']}", {"photo_upload_ids": [wrong]})
        assert put.status_code == 422, put.content
        assert put.json()["errors"][0]["field"] == "photo_upload_ids"
    # FAC2's key does not see FAC1's package at all.
    assert elsewhere.get(f"/unidentified-packages/{package['id']}").status_code == 404
    assert elsewhere.put(f"/unidentified-packages/{package['id']}", {}).status_code == 404
    assert stored(fac2_photo).facility_id == Facility.objects.get(code="FAC2").pk


def test_a_merchant_key_may_not_touch_packages(
    station: ApiClient, api: ApiClient, merchant: Merchant
) -> None:
    package = scan(station, "NO-LABEL-4").json()["unidentified_package"]
    assert api.get(f"/unidentified-packages/{package['id']}").status_code == 403
    assert api.put(f"/unidentified-packages/{package['id']}", {"notes": "x"}).status_code == 403
    # A merchant key's own upload ignores `facility`: it is the merchant's, as always.
    mine = upload(api, photo_with_gps())
    assert mine.status_code == 201
    assert stored(mine.json()["upload_id"]).merchant_id == merchant.pk
