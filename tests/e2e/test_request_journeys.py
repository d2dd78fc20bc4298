"""A service request's journey in a real browser at a phone's width, without JavaScript of ours:
a resident files it, the dispatcher accepts and resolves it, the resident rates it.

Each step ends where a person would look: the status on the page, the history, the mark.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories.core import PASSWORD

pytestmark = pytest.mark.e2e

WORDS = {
    "en": {
        "log_in": "Log in",
        "log_out": "Log out",
        "my_requests": "My requests",
        "file": "File a request",
        "where": "Where",
        "what": "What is the problem about",
        "roof": "Roof leak",
        "describe": "Describe the problem",
        "send": "Send the request",
        "filed": "Your request is filed.",
        "new": "new",
        "queue": "Request queue",
        "accept": "Accept",
        "accepted": "The request is accepted.",
        "resolve": "Mark as resolved",
        "resolved_notice": "The request is marked as resolved.",
        "resolved": "resolved",
        "rate": "Rate the work",
        "send_rating": "Send the rating",
        "thanks": "Thank you for your rating.",
        "mark": "4 of 5",
    },
    "uz": {
        "log_in": "Kirish",
        "log_out": "Chiqish",
        "my_requests": "Mening murojaatlarim",
        "file": "Murojaat yuborish",
        "where": "Qayerda",
        "what": "Muammo nima haqida",
        "roof": "Tom oqmoqda",
        "describe": "Muammoni tasvirlab bering",
        "send": "Murojaatni yuborish",
        "filed": "Murojaatingiz yuborildi.",
        "new": "yangi",
        "queue": "Murojaatlar navbati",
        "accept": "Qabul qilish",
        "accepted": "Murojaat qabul qilindi.",
        "resolve": "Hal qilindi deb belgilash",
        "resolved_notice": "Murojaat hal qilindi deb belgilandi.",
        "resolved": "hal qilingan",
        "rate": "Ishni baholang",
        "send_rating": "Bahoni yuborish",
        "thanks": "Bahoyingiz uchun rahmat.",
        "mark": "5 dan 4",
    },
}


def sign_in(page: Page, site: str, username: str, words: dict[str, str]) -> None:
    page.goto(f"{site}/login")
    expect(page.get_by_role("heading", name=words["log_in"])).to_be_visible()
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=words["log_in"], exact=True).click()


def sign_out(page: Page, words: dict[str, str]) -> None:
    page.get_by_role("button", name=words["log_out"]).click()
    expect(page.get_by_role("heading", name=words["log_in"])).to_be_visible()


@pytest.mark.parametrize("language", ["en", "uz"])
def test_a_resident_files_the_dispatcher_resolves_and_the_resident_rates(
    page: Page, site, city, shot, language
):
    words = WORDS[language]
    page.goto(f"{site}/login")
    if language != "en":  # the switcher on the login page, as a visitor would find it
        page.get_by_label("Language").select_option(language)
        page.get_by_role("button", name="Change language").click()

    # The resident files a request for their apartment.
    sign_in(page, site, "resident", words)
    page.get_by_role("navigation").get_by_role("link", name=words["my_requests"]).click()
    page.get_by_role("link", name=words["file"]).click()
    shot("new-request")
    page.get_by_label(words["where"]).select_option(index=1)  # the home, listed first
    page.get_by_label(words["what"]).select_option(label=words["roof"])
    page.get_by_label(words["describe"]).fill("Water drips from the kitchen ceiling after the rain")
    page.get_by_role("button", name=words["send"]).click()
    expect(page.locator("#done")).to_contain_text(words["filed"])
    expect(page.locator("main h1 .status")).to_have_text(words["new"])
    request_id = int(re.search(r"/requests/(\d+)", page.url).group(1))
    shot("filed")
    sign_out(page, words)

    # The dispatcher finds it in the queue, accepts it, then resolves it.
    sign_in(page, site, "dispatcher", words)
    expect(page.get_by_role("heading", name=words["queue"])).to_be_visible()
    row = page.locator(f"#request-{request_id}")
    expect(row).to_contain_text(words["roof"])
    shot("queue")
    row.get_by_role("link").first.click()
    page.get_by_role("button", name=words["accept"]).click()
    expect(page.locator("#done")).to_have_text(words["accepted"])
    shot("accepted")
    page.get_by_role("button", name=words["resolve"]).click()
    expect(page.locator("#done")).to_have_text(words["resolved_notice"])
    expect(page.locator("main h1 .status")).to_have_text(words["resolved"])
    shot("resolved")
    sign_out(page, words)

    # The resident sees it resolved and rates it 4 of 5, once.
    sign_in(page, site, "resident", words)
    page.get_by_role("navigation").get_by_role("link", name=words["my_requests"]).click()
    card = page.locator(f"#request-{request_id}")
    expect(card.locator(".status")).to_have_text(words["resolved"])
    shot("my-requests")
    card.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=words["rate"])).to_be_visible()
    page.get_by_label("4", exact=True).check()
    page.locator("#rating-comment").fill("Dry again, thank you")
    shot("rate")
    page.get_by_role("button", name=words["send_rating"]).click()

    expect(page.locator("#done")).to_have_text(words["thanks"])
    expect(page.locator("#rating")).to_contain_text(words["mark"])
    expect(page.locator("#rating")).to_contain_text("Dry again, thank you")
    expect(page.get_by_role("button", name=words["send_rating"])).to_have_count(0)
    history = page.locator("#history li")
    expect(history).to_have_count(3)  # new, accepted, resolved: each with its time
    expect(history.last.locator(".status")).to_have_text(words["resolved"])
    shot("rated")
