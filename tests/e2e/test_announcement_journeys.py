"""An announcement's journey in a real browser at a phone's width: the manager posts it with a
picture to their building, the resident finds it unread in the inbox, opens it, and the mark goes
away; the manager sees it read.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_request_journeys import WORDS, sign_in, sign_out
from tests.factories.requests import png_bytes

pytestmark = pytest.mark.e2e

TITLE = "Water off on Friday"
TEXT = "From 10:00 to 14:00 <b>no water</b> & no lift."


def test_the_manager_posts_the_resident_reads_and_the_unread_mark_goes_away(page: Page, site, city, shot):
    words = WORDS["en"]

    sign_in(page, site, "manager", words)
    page.get_by_role("navigation").get_by_role("link", name="Announcements").click()
    page.get_by_role("link", name="Post an announcement").click()
    page.get_by_label("Residents of these buildings").check()
    page.locator("#building_ids").select_option(str(city.building_a.id))
    page.locator("#title_en").fill(TITLE)
    page.locator("#text_en").fill(TEXT)
    page.locator("#attachment").set_input_files(
        files=[{"name": "plan.png", "mimeType": "image/png", "buffer": png_bytes((64, 64))}]
    )
    shot("form")
    page.get_by_role("button", name="Post and notify the residents").click()
    expect(page.get_by_role("status")).to_have_text("Posted. 1 resident was notified.")
    expect(page.locator("#readers")).to_have_text("Read by 0 of 1 resident")
    announcement_id = int(re.search(r"/console/announcements/(\d+)", page.url).group(1))
    shot("posted")
    sign_out(page, words)

    sign_in(page, site, "resident", words)
    page.get_by_role("navigation").get_by_role("link", name="Outages and notices").click()
    expect(page.locator("#unread-count")).to_have_text("Unread: 1")
    unread = page.locator(".inbox li.unread")
    expect(unread).to_have_count(1)
    expect(unread).to_contain_text(TITLE)
    expect(unread.locator(".badge-unread")).to_have_text("New")
    shot("inbox-unread")
    unread.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.locator(".announcement-text")).to_have_text(TEXT)  # as typed, not as markup
    expect(page.get_by_role("link", name="Open the attached picture")).to_have_attribute(
        "href", f"/api/v1/announcements/{announcement_id}/attachment"
    )
    shot("announcement")
    page.get_by_role("link", name="Outages and notices").first.click()
    expect(page.locator("#unread-count")).to_have_text("Unread: 0")
    expect(page.locator(".inbox li.unread")).to_have_count(0)
    expect(page.locator(".inbox")).to_contain_text(TITLE)
    shot("inbox-read")
    sign_out(page, words)

    sign_in(page, site, "manager", words)
    page.get_by_role("navigation").get_by_role("link", name="Announcements").click()
    expect(page.locator(f"#announcement-{announcement_id}")).to_contain_text("Read by 1 of 1 resident")
    shot("console-read")
