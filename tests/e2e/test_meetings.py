"""Owners' meetings in a real browser at a phone's width (360 px), without any JavaScript of ours:
an owner votes in Uzbek and gets a receipt; staff enter a paper ballot with its scan and close
the meeting; the protocol PDF opens and names the result.

The meeting is drafted and published through the service (the console's forms have their own
page tests); the clock is frozen within the voting period, then after it. The pages speak
Uzbek from the catalog, and the test looks its words up there.
"""

import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from babel.support import NullTranslations
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlmodel import Session

from housing import i18n
from housing.accounts.models import User
from housing.actors import Actor
from housing.meetings import drafting, publishing, reading, voting
from housing.meetings.models import Meeting
from housing.meetings.rules import Choice, DecisionKind
from tests.conftest import make_settings
from tests.factories.core import PASSWORD
from tests.factories.meetings import manager_of
from tests.factories.requests import png_bytes
from tests.servers import listening_socket, serving_in_thread

pytestmark = pytest.mark.e2e

DRAFTED = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
STARTS, ENDS = datetime(2026, 11, 17, 19, 0, tzinfo=UTC), datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
VOTING = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
AFTER = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
ROOF = {"uz": "Tomni ta'mirlaymizmi?", "en": "Shall we repair the roof?"}
FEE = {"uz": "Boshqaruv badali 2 000 so'm bo'lsinmi?", "en": "A management fee of 2,000 so'm?"}


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, meetings={"document_dir": tmp_path / "files"})


@pytest.fixture
def uzbek() -> NullTranslations:
    """The Uzbek catalog the served pages speak, for the test's words."""
    return i18n.translations("uz")


@pytest.fixture
def site(app) -> Iterator[str]:
    with serving_in_thread(app, listening_socket()) as url:
        yield url


@pytest.fixture
def meeting_id(session: Session, settings, city, frozen_clock) -> int:
    """A meeting of building A's company: the roof (ordinary) and the fee, published at DRAFTED."""
    frozen_clock.set(DRAFTED)
    manager = manager_of(session, city.building_a)
    meeting = drafting.draft_meeting(
        session,
        manager,
        building_id=city.building_a.id,
        texts={"uz": ("Uy egalarining umumiy yig'ilishi", "Tom va badal"), "en": ("General meeting", "")},
        voting_starts=STARTS,
        voting_ends=ENDS,
        now=DRAFTED,
    )
    drafting.add_question(
        session,
        manager,
        meeting,
        kind=DecisionKind.ordinary,
        texts={code: (title, "") for code, title in ROOF.items()},
        now=DRAFTED,
    )
    drafting.add_question(
        session,
        manager,
        meeting,
        kind=DecisionKind.management_fee,
        texts={code: (title, "") for code, title in FEE.items()},
        fee_minor=200_000,
        effective_from=date(2027, 1, 1),
        now=DRAFTED,
    )
    publishing.publish_meeting(session, manager, meeting, settings=settings, now=DRAFTED)
    session.commit()
    return meeting.id


def _sign_in(page: Page, site: str, username: str, log_in: str = "Log in") -> None:
    page.goto(f"{site}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=log_in, exact=True).click()


def _fits_the_phone(page: Page) -> bool:
    """Nothing but a table's own scroller is wider than the screen."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_owner_votes_on_a_phone_in_uzbek(page: Page, uzbek, site, city, meeting_id, frozen_clock, shot):
    uz = uzbek.gettext
    assert uz("Owners' meetings") != "Owners' meetings"  # the words below are Uzbek ones
    frozen_clock.set(VOTING)
    page.goto(f"{site}/login")
    page.get_by_label("Language").select_option("uz")
    page.get_by_role("button", name="Change language").click()
    _sign_in(page, site, "resident", log_in="Kirish")
    expect(page.locator("html")).to_have_attribute("lang", "uz")

    page.get_by_role("navigation").get_by_role("link", name=uz("Owners' meetings")).click()
    page.get_by_role("link", name="Uy egalarining umumiy yig'ilishi").click()
    expect(page.get_by_role("heading", name="Uy egalarining umumiy yig'ilishi")).to_be_visible()
    expect(page.locator("#turnout")).to_contain_text("0,00")  # Uzbek writes a decimal comma
    ballot = page.locator(".ballot")
    expect(ballot).to_have_count(1)
    ballot.get_by_role("group", name=f"1. {ROOF['uz']}").get_by_label(uz("For"), exact=True).check()
    ballot.get_by_role("group", name=f"2. {FEE['uz']}").get_by_label(uz("Against"), exact=True).check()
    assert _fits_the_phone(page)
    shot("vote-form")
    ballot.get_by_role("button").click()

    expect(page.get_by_role("status")).to_contain_text(
        uz("Your ballot was accepted. Keep this receipt: with it you can find your ballot in the register.")
    )
    answers = page.locator("#answers")
    expect(answers).to_contain_text(f"{ROOF['uz']}: {uz('For')}")
    expect(answers).to_contain_text(f"{FEE['uz']}: {uz('Against')}")
    receipt = page.locator(".receipt-code").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{16}", receipt)
    assert _fits_the_phone(page)
    shot("receipt")

    page.get_by_role("link", name="Uy egalarining umumiy yig'ilishi").click()
    expect(page.locator(".ballot")).to_contain_text(receipt)
    expect(page.locator(".ballot form")).to_have_count(0)  # a ballot is final
    expect(page.locator("#turnout")).to_contain_text("54,30")
    shot("voted")


def test_staff_enter_a_paper_ballot_and_the_protocol_names_the_result(
    page: Page, site, session: Session, city, meeting_id, frozen_clock, shot
):
    frozen_clock.set(VOTING)
    owner = Actor.of(session.get(User, city.users["resident"]))
    meeting = session.get(Meeting, meeting_id)
    (entry,) = voting.voter_entries(session, owner, meeting)
    roof, fee = (q.id for q in reading.questions_of(session, meeting))
    voting.cast_ballot(
        session,
        owner,
        meeting,
        voter_id=entry.voter_id,
        answers={roof: Choice.yes, fee: Choice.no},
        now=VOTING,
    )
    session.commit()
    _sign_in(page, site, "manager")
    page.get_by_role("navigation").get_by_role("link", name="Owners' meetings").click()
    page.get_by_role("link", name="General meeting").click()
    paper = page.locator("#paper")
    whose = paper.get_by_label("Whose ballot")
    whose.select_option(whose.locator("option", has_text="Apartment 2:").get_attribute("value"))
    paper.get_by_role("group", name=f"1. {ROOF['en']}").get_by_label("For", exact=True).check()
    paper.get_by_role("group", name=f"2. {FEE['en']}").get_by_label("Abstain", exact=True).check()
    paper.get_by_label("Scan of the signed ballot").set_input_files(
        files=[{"name": "ballot.png", "mimeType": "image/png", "buffer": png_bytes((64, 64))}]
    )
    shot("paper-form")
    paper.get_by_role("button", name="Enter the ballot").click()
    expect(page.get_by_role("status")).to_contain_text("The paper ballot is entered.")
    expect(page.locator("#turnout")).to_contain_text("Voted so far: 108.60 m² of 108.60 m² (100.00%).")
    expect(page.locator("#paper").get_by_label("Whose ballot").locator("option")).to_have_count(
        1
    )  # none left
    assert _fits_the_phone(page)
    shot("paper-entered")

    frozen_clock.set(AFTER)
    page.reload()
    page.get_by_role("button", name="Close the meeting and count the votes").click()
    results = page.locator("#results")
    expect(results).to_contain_text("Quorum reached.")
    expect(results).to_contain_text(f"1. {ROOF['en']} — Adopted")
    expect(results).to_contain_text(f"2. {FEE['en']} — Rejected")  # 54.30 against, 54.30 abstaining
    expect(page.locator("#register")).to_contain_text("Paper ballot")
    shot("closed")

    link = page.get_by_role("link", name="English (PDF)")
    expect(link).to_be_visible()
    answer = page.request.get(site + link.get_attribute("href"))
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(answer.body())).pages)
    assert ROOF["en"] in text and "Adopted" in text and "Not adopted" in text
    assert answer.body().startswith(b"%PDF")
    uzbek = page.request.get(
        site + page.get_by_role("link", name="O\u02bbzbekcha (PDF)").get_attribute("href")
    )
    assert uzbek.status == 200
    assert ROOF["uz"] in "".join(p.extract_text() for p in PdfReader(io.BytesIO(uzbek.body())).pages)
