"""A warehouse worker at the receiving station, end to end in Chromium and by keyboard only:
the scanner types a label's tracking number and presses Enter, the answer says received, and
the worker counts the box and records it; axe-core on every step."""

from __future__ import annotations

from typing import Any

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from returndesk.warehouse.models import Receipt, UnidentifiedPackage
from tests.browser.conftest import accessible
from tests.conftest import ApiClient
from tests.console.test_console import PASSWORD, staff
from tests.factories import make_facility
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture
from tests.returns.test_uploads import photo_with_gps
from tests.warehouse.conftest import make_return

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]


def test_a_worker_scans_a_label_and_records_the_box(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    make_facility(merchant, code="FAC1", name="Newark returns centre")
    ret = make_return(api)
    tracking = api.post(f"/returns/{ret['ran']}/label", {}).json()["tracking_number"]
    staff("dock@provider.example", "warehouse", None)
    # A warehouse role may not view returns, so the console's home would be a 403: the
    # station is where a worker signs in to.
    page.goto(f"{live_server.url}/console/login/?next=/console/m/acme/station/")
    page.get_by_label("E-mail").fill("dock@provider.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Receiving at FAC1")
    accessible(page, "station")

    scanner = page.get_by_label("Scan a label, a drop-off code or a RAN")
    expect(scanner).to_be_focused()
    page.keyboard.type(tracking)  # a keyboard-wedge scanner types, then presses Enter
    page.keyboard.press("Enter")
    answer = page.locator("#result .answer")
    expect(answer).to_have_attribute("data-outcome", "received")
    expect(answer).to_contain_text(ret["ran"])
    expect(scanner).to_be_focused()  # ready for the next package
    expect(scanner).to_have_value("")
    expect(page.get_by_role("cell", name="Trail Runner SHOE-1")).to_be_visible()
    accessible(page, "station-received")

    # Tab into the box: one shoe of two arrived, the sock did not, and a charger came along.
    page.keyboard.press("Tab")  # past the Find button
    page.keyboard.press("Tab")
    expect(page.get_by_label("Units of Trail Runner in the box")).to_be_focused()
    page.keyboard.press("Control+a")
    page.keyboard.type("1")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+a")
    page.keyboard.type("0")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Package condition")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.type("1350")
    page.get_by_label("Extra items not expected (one per line)").focus()
    page.keyboard.type("A phone charger")
    page.get_by_label("Weight (grams)").focus()
    page.keyboard.press("Enter")

    expect(answer).to_have_attribute("data-outcome", "recorded")
    expect(scanner).to_be_focused()
    accessible(page, "station-recorded")
    with scopes_disabled():
        receipt = Receipt.objects.get()
        counts = [(line.received_quantity, line.missing_quantity) for line in receipt.lines.all()]
        assert Return.objects.get().status == "received"
    assert receipt.state == "closed" and receipt.weight_grams == 1350
    assert counts == [(1, 1), (0, 1)]
    assert receipt.extra_items[0]["description"] == "A phone charger"


def test_a_worker_photographs_a_package_that_matched_nothing(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    settings: Any,
    tmp_path: Any,
) -> None:
    """By keyboard: the scanner's unknown code, Tab to the camera/file input, a photo, the
    notes, Enter; the photo is then in the exceptions queue."""
    settings.MEDIA_ROOT = tmp_path
    make_facility(merchant, code="FAC1", name="Newark returns centre")
    staff("dock@provider.example", "warehouse", None)
    page.goto(f"{live_server.url}/console/login/?next=/console/m/acme/station/")
    page.get_by_label("E-mail").fill("dock@provider.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    scanner = page.get_by_label("Scan a label, a drop-off code or a RAN")
    expect(scanner).to_be_focused()
    page.keyboard.type("PARCEL-WITHOUT-LABEL")
    page.keyboard.press("Enter")
    answer = page.locator("#result .answer")
    expect(answer).to_have_attribute("data-outcome", "unidentified")
    expect(scanner).to_be_focused()
    accessible(page, "station-unidentified")

    page.keyboard.press("Tab")  # past the Find button
    page.keyboard.press("Tab")
    photos = page.get_by_label("Photos of the package (camera or files)")
    expect(photos).to_be_focused()
    expect(photos).to_have_attribute("capture", "environment")
    # The file chooser is the operating system's; Playwright hands it the file instead.
    photos.set_input_files(
        files=[{"name": "box.jpg", "mimeType": "image/jpeg", "buffer": photo_with_gps()}]
    )
    page.keyboard.press("Tab")
    expect(page.get_by_label("Notes: sender, labels, what is inside")).to_be_focused()
    page.keyboard.type("Blue box, sender smudged")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save photos and notes")).to_be_focused()
    page.keyboard.press("Enter")
    expect(answer).to_have_attribute("data-outcome", "package_saved")
    expect(scanner).to_be_focused()  # ready for the next package
    expect(page.locator("#result ul.photos img")).to_have_count(1)
    accessible(page, "station-package-saved")
    with scopes_disabled():
        package = UnidentifiedPackage.objects.get()
    assert package.notes == "Blue box, sender smudged" and len(package.photo_upload_ids) == 1

    page.goto(f"{live_server.url}/console/m/acme/station/exceptions/")
    image = page.get_by_role("img", name=f"Photo 1 of package {package.public_id}")
    expect(image).to_be_visible()
    assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) == 64
    accessible(page, "station-exceptions-photos")
