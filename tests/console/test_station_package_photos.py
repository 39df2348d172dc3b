"""A package that matched nothing, photographed at the station: the camera/file input on the
answer, the photos in the exceptions queue, and, once linked, on the return for its merchant
only."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled

from returndesk.core.models import Upload
from returndesk.tenants.models import Facility, Merchant
from returndesk.warehouse.models import UnidentifiedPackage
from tests.console.test_console import signed_in, staff
from tests.console.test_station import HTMX, facility, ran, scan, worker  # noqa: F401 - fixtures
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture
from tests.returns.test_uploads import photo_with_gps

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


def photo(name: str = "box.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, photo_with_gps(), content_type="image/jpeg")


def note(client: Client, package: UnidentifiedPackage, **data: Any) -> Any:
    return client.post(
        f"/console/m/acme/station/FAC1/packages/{package.public_id}/", data, headers=HTMX
    )


def test_the_answer_to_an_unknown_package_offers_the_camera(
    worker: Client,  # noqa: F811
    facility: Facility,  # noqa: F811
) -> None:
    answer = scan(worker, "PARCEL-WITHOUT-LABEL", headers=HTMX).content.decode()
    assert 'data-outcome="unidentified"' in answer
    assert (
        '<input id="package-photos" name="photos" type="file" accept="image/*" '
        'capture="environment" multiple>' in answer
    )
    assert 'enctype="multipart/form-data"' in answer and 'id="package-notes"' in answer


def test_photos_and_notes_are_the_facility_s_until_linked(
    worker: Client,  # noqa: F811
    ran: str,  # noqa: F811
    merchant: Merchant,
) -> None:
    scan(worker, "PARCEL-WITHOUT-LABEL", headers=HTMX)
    package = UnidentifiedPackage.objects.get()
    saved = note(worker, package, notes="Blue box", photos=[photo()])
    assert saved.status_code == 200
    assert 'data-outcome="package_saved"' in saved.content.decode()
    note(worker, package, notes="Blue box, from Springfield", photos=[photo("2.jpg")])
    package.refresh_from_db()
    assert package.notes == "Blue box, from Springfield"
    assert len(package.photo_upload_ids) == 2  # new photos join the earlier ones
    first = package.photo_upload_ids[0]
    with scopes_disabled():
        kept = Upload.objects.get(public_id=first)
    assert kept.merchant_id is None and kept.facility.code == "FAC1"

    queue = worker.get("/console/m/acme/station/exceptions/").content.decode()
    url = f"/console/m/acme/station/exceptions/{package.public_id}/photos/{first}/"
    assert f'src="{url}"' in queue and "Blue box, from Springfield" in queue
    image = worker.get(url)
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert b"CameraMaker" not in image.content  # the upload service stripped it
    unknown = f"/console/m/acme/station/exceptions/{package.public_id}/photos/upl_nope/"
    assert worker.get(unknown).status_code == 404

    # Linked: the photos are acme's now, on the return, and off the queue.
    worker.post(f"/console/m/acme/station/exceptions/{package.public_id}/link/", {"ran": ran})
    with scopes_disabled():
        kept.refresh_from_db()
    assert (kept.merchant_id, kept.facility_id) == (merchant.pk, None)
    assert worker.get(url).status_code == 404
    admin = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    detail = admin.get(f"/console/m/acme/returns/{ran}/").content.decode()
    on_return = f"/console/m/acme/returns/{ran}/photos/{first}/"
    assert "Received without a match" in detail and f'src="{on_return}"' in detail
    assert "Blue box, from Springfield" in detail
    assert admin.get(on_return).status_code == 200
    assert admin.get(f"/console/m/acme/returns/{ran}/photos/upl_nope/").status_code == 404


def test_another_merchant_never_sees_the_photos_once_linked(
    worker: Client,  # noqa: F811
    ran: str,  # noqa: F811
    merchant: Merchant,
    other_merchant: Merchant,
    facility: Facility,  # noqa: F811
) -> None:
    facility.merchants.add(other_merchant)  # FAC1 serves both
    scan(worker, "PARCEL-WITHOUT-LABEL", headers=HTMX)
    package = UnidentifiedPackage.objects.get()
    note(worker, package, notes="", photos=[photo()])
    package.refresh_from_db()
    url = f"/console/m/globex/station/exceptions/{package.public_id}/photos/"
    url += f"{package.photo_upload_ids[0]}/"
    theirs = signed_in(staff("dock@globex.example", "warehouse", other_merchant))
    # Unlinked, nobody knows whose it is: every warehouse worker at FAC1 may look at it.
    assert theirs.get(url).status_code == 200
    worker.post(f"/console/m/acme/station/exceptions/{package.public_id}/link/", {"ran": ran})
    assert theirs.get(url).status_code == 404
    globex_admin = signed_in(staff("admin@globex.example", "merchant_admin", other_merchant))
    on_return = f"/console/m/globex/returns/{ran}/photos/{package.photo_upload_ids[0]}/"
    assert globex_admin.get(on_return).status_code == 404


def test_a_file_that_is_no_image_is_refused_and_nothing_is_saved(
    worker: Client,  # noqa: F811
    facility: Facility,  # noqa: F811
) -> None:
    scan(worker, "PARCEL-WITHOUT-LABEL", headers=HTMX)
    package = UnidentifiedPackage.objects.get()
    text = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    answer = worker.post(
        f"/console/m/acme/station/FAC1/packages/{package.public_id}/",
        {"notes": "hello", "photos": [text]},
    )
    assert answer.status_code == 422
    assert "not a readable image" in answer.content.decode()
    package.refresh_from_db()
    assert (package.notes, package.photo_upload_ids) == ("", [])
