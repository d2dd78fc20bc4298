"""The protocol PDF: the numbers of an exact count as a reader sees them (0.01 m2, 0.01%, half
up), the result in words, the quorum, the register of ballots with receipts and the chain head,
in Uzbek, Russian and English, numbered pages; a 1,000-line register breaks across pages without
losing, repeating or cutting a line; and what `protocol_data` reads from a closed meeting."""

import io
import string
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from pypdf import PdfReader

from housing import i18n
from housing.errors import Conflict, NotFound
from housing.meetings import closing, protocol, voting
from housing.meetings.counting import Count, RollEntry, count
from housing.meetings.models import (
    BallotChannel,
    InitiatorKind,
)
from housing.meetings.protocol import protocol_pdf
from housing.meetings.protocol_source import ProtocolData, ProtocolQuestion, protocol_data
from housing.meetings.receipts import RegisterRow
from housing.meetings.rules import Choice, DecisionKind, MeetingRules, Outcome
from housing.settings import MeetingSettings
from tests.factories import meetings as f
from tests.factories.core import make_apartment, make_building, make_company, make_owner, make_person

LOCALE = Path(__file__).resolve().parents[2] / "housing" / "locale"
PROTOCOL_SOURCE = Path(protocol.__file__)


class _Rules:
    meetings = MeetingSettings()


RULES = MeetingRules.of(_Rules)
Q1, Q2 = 11, 12  # question ids


def _messages(language: str) -> dict:
    """The language's catalog with the pending translations (housing/locale/pending) merged in."""
    with (LOCALE / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        merged = read_po(po, locale=language)
    for path in sorted((LOCALE / "pending").glob(f"*.{language}.po")):
        with path.open("rb") as po:
            for message in read_po(po, locale=language):
                if message.id and message.string:
                    merged[message.id] = message
    return merged


def catalog(language: str) -> Translations:
    """The catalog as it will be once the pending translations are merged: the protocol is
    checked in the words a reader gets."""
    compiled = BytesIO()
    write_mo(compiled, _messages(language))
    compiled.seek(0)
    return Translations(compiled)


def pdf_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def render(data: ProtocolData, language: str) -> list[str]:
    pdf = protocol_pdf(data, language, translations=None if language == "en" else catalog(language))
    assert pdf.startswith(b"%PDF-")
    return pdf_text(pdf)


# A building of 200.00 m2: a flat of 50.00 m2 with two co-owners (1/2 each), one of 33.33 m2
# (shares 1/3 and 2/3), one of 16.67 m2 and a shop (non-residential) of 100.00 m2.
ROLL = [
    RollEntry(1, 1, 2, Decimal("50.00")),  # 25
    RollEntry(2, 1, 2, Decimal("50.00")),  # 25
    RollEntry(3, 1, 3, Decimal("33.33")),  # 11.11
    RollEntry(4, 2, 3, Decimal("33.33")),  # 22.22
    RollEntry(5, 1, 1, Decimal("16.67")),  # 16.67
    RollEntry(6, 1, 1, Decimal("100.00")),  # 100, the shop
]
TOTAL = Fraction(200)
QUESTIONS = [(Q1, DecisionKind.management_company), (Q2, DecisionKind.capital_repair)]


def make_data(answers: dict[int, dict[int, Choice]], *, texts=None, register=None) -> ProtocolData:
    result = count(total=TOTAL, roll=ROLL, questions=QUESTIONS, answers=answers, rules=RULES)
    weights = {entry.voter_id: entry.weight for entry in ROLL}
    shares = {entry.voter_id: Fraction(entry.share_numerator, entry.share_denominator) for entry in ROLL}
    names = {
        1: "Karimov Aziz",
        2: "Каримова Нилуфар",
        3: "Smith John",
        4: "-",
        5: "Olimov Bek",
        6: "Savdo MChJ",
    }
    return ProtocolData(
        meeting_id=42,
        building_address="Toshkent, Amir Temur koʻchasi 7",
        texts=texts
        or {
            "uz": ("Yillik yigʻilish", "Boshqaruv kompaniyasini tanlash"),
            "ru": ("Годовое собрание", "Выбор управляющей компании"),
            "en": ("Annual meeting", "Choosing the management company"),
        },
        initiator=InitiatorKind.company,
        initiator_name="Obod Uy MChJ",
        published_at=datetime(2026, 10, 1, 5, 0, tzinfo=UTC),
        record_date=date(2026, 10, 1),
        voting_starts=datetime(2026, 10, 15, 19, 0, tzinfo=UTC),
        voting_ends=datetime(2026, 10, 30, 19, 0, tzinfo=UTC),
        closed_at=datetime(2026, 10, 30, 19, 5, tzinfo=UTC),
        count=result,
        quorum=RULES.quorum,
        questions=[
            ProtocolQuestion(
                id=Q1,
                position=1,
                kind=DecisionKind.management_company,
                texts={
                    "uz": ("Yangi kompaniya", ""),
                    "ru": ("Новая управляющая компания", ""),
                    "en": ("A new company", ""),
                },
                threshold=RULES.thresholds[DecisionKind.management_company],
                company_name="Yangi Uy MChJ",
                effective_from=date(2026, 12, 1),
            ),
            ProtocolQuestion(
                id=Q2,
                position=2,
                kind=DecisionKind.capital_repair,
                texts={"uz": ("Tom taʼmiri", ""), "ru": ("Ремонт крыши", ""), "en": ("Roof repair", "")},
                threshold=RULES.thresholds[DecisionKind.capital_repair],
            ),
        ],
        register=register
        if register is not None
        else [
            RegisterRow(
                sequence=n,
                ballot_id=n,
                voter_id=voter,
                apartment_number=str(voter),
                owner_name=names[voter],
                share=shares[voter],
                weight=weights[voter],
                channel=BallotChannel.paper if voter == 6 else BallotChannel.online,
                proxy_name="Rahimov Sardor" if voter == 5 else None,
                choices=answers[voter],
                hash=f"{voter:x}" * 64,
                prev_hash="0" * 64,
                cast_at=datetime(2026, 10, 20, tzinfo=UTC),
            )
            for n, voter in enumerate(answers, start=1)
        ],
        chain_head="c0ffee" * 10 + "abcd",
    )


VOTED = {
    1: {Q1: Choice.yes, Q2: Choice.yes},
    2: {Q1: Choice.no, Q2: Choice.yes},
    3: {Q1: Choice.abstain, Q2: Choice.yes},
    6: {Q1: Choice.yes, Q2: Choice.no},
    5: {Q1: Choice.yes},  # left question 2 blank
}


def test_every_protocol_word_has_its_uzbek_and_russian_text_with_the_same_fields():
    words = {message for _, message, _, _ in extract_from_file("python", str(PROTOCOL_SOURCE))}
    assert len(words) > 50
    for language in ("uz", "ru"):
        translated = {m.id: m.string for m in _messages(language) if m.id and m.string}
        missing = sorted(word for word in words if word not in translated)
        assert missing == [], language
        changed = sorted(word for word in words if _fields(translated[word]) != _fields(word))
        assert changed == [], language


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_english_protocol_shows_the_exact_count_rounded_half_up_and_the_results():
    pages = render(make_data(VOTED), "en")
    first = pages[0]
    assert "Protocol of the general meeting of owners" in first
    assert "Toshkent, Amir Temur koʻchasi 7" in first
    assert "Annual meeting" in first
    assert "the management company Obod Uy MChJ" in first
    # all votes 200.00; cast 25 + 25 + 11.11 + 100 + 16.67 = 177.78 (88.89%)
    assert "200.00 m²" in first
    assert "177.78 m² (88.89 %)" in first
    assert "more than 1/2 of all votes: reached" in first
    # question 1 (company, more than half of all votes): for 141.67 = 70.835% -> 70.84 (half up),
    # against 25 = 12.50%, abstain 11.11 = 5.555% -> 5.56; of the 177.78 cast on it: 79.69 / 14.06 / 6.25
    assert "For 141.67 70.84 % 79.69 %" in first
    assert "Against 25.00 12.50 % 14.06 %" in first
    assert "Abstain 11.11 5.56 % 6.25 %" in first
    assert "The company: Yangi Uy MChJ" in first
    assert "Takes effect on December 1, 2026" in first
    # question 2 (capital repair, at least 2/3 of all votes): 61.11 for (30.56%) of 161.11 cast
    text = "\n".join(pages)
    assert "For 61.11 30.56 % 37.93 %" in text
    assert "Against 100.00 50.00 % 62.07 %" in text
    assert "Needed to adopt: at least 2/3 of all votes" in text
    results = [line for line in text.splitlines() if line.startswith("Result: ")]
    assert results == ["Result: Adopted", "Result: Not adopted"]
    assert "Page 1 of " in first


def test_the_protocol_is_dated_by_the_close_so_printing_it_again_gives_the_same_file():
    data = make_data(VOTED)
    pdf = protocol_pdf(data, "en")
    assert PdfReader(io.BytesIO(pdf)).metadata.creation_date == data.closed_at
    assert protocol_pdf(data, "en") == pdf


def test_the_register_lists_each_ballot_with_its_receipt_and_the_protocol_ends_with_the_chain_head():
    data = make_data(VOTED)
    text = "\n".join(render(data, "en"))
    assert "Register of ballots" in text
    assert "1 1 Karimov Aziz 1/2 25.00 online 1: for; 2: for 1111111111111111" in text
    assert "3 3 Smith John 1/3 11.11 online 1: abstain; 2: for 3333333333333333" in text
    assert "4 6 Savdo MChJ 1 100.00 paper 1: for; 2: against 6666666666666666" in text
    assert "by proxy: Rahimov Sardor" in text
    assert "5555555555555555" in text and "5" * 17 not in text  # the receipt, not the whole hash
    assert data.chain_head in text


def test_exactly_half_of_all_votes_is_no_quorum_and_nothing_is_decided():
    # 25 + 25 + 50 (shares of the shop are whole: 100 m2 alone would be half too) -> the shop alone
    pages = render(make_data({6: {Q1: Choice.yes, Q2: Choice.yes}}), "en")
    text = "\n".join(pages)
    assert "100.00 m² (50.00 %)" in text
    assert "more than 1/2 of all votes: not reached" in text
    results = [line for line in text.splitlines() if line.startswith("Result: ")]
    assert results == ["Result: Not decided: no quorum"] * 2


def test_the_russian_protocol_is_in_russian_words_with_cyrillic_text():
    pages = render(make_data(VOTED), "ru")
    text = "\n".join(pages)
    assert "Протокол общего собрания собственников" in text
    assert "Годовое собрание" in text and "Новая управляющая компания" in text
    assert "177,78" in text and "88,89 %" in text  # the Russian decimal comma
    assert "Кворум более 1/2 всех голосов: имеется" in text
    assert "Итог: Решение принято" in text and "Итог: Решение не принято" in text
    assert "Каримова Нилуфар" in text
    assert "по доверенности: Rahimov Sardor" in text
    assert f"Страница 1 из {len(pages)}" in pages[0]


def test_the_uzbek_protocol_keeps_the_uzbek_letters():
    text = "\n".join(render(make_data(VOTED), "uz"))
    assert "Mulkdorlar umumiy yigʻilishining bayonnomasi" in text
    assert "Yillik yigʻilish" in text and "Tom taʼmiri" in text
    assert "Natija: Qaror qabul qilindi" in text


def test_a_meeting_without_a_text_in_the_language_is_printed_in_one_it_has():
    data = make_data(VOTED, texts={"ru": ("Годовое собрание", "")})
    assert data.languages == ("ru",)
    assert "Годовое собрание" in render(data, "en")[0]


def test_an_unknown_language_is_not_found():
    with pytest.raises(NotFound):
        protocol_pdf(make_data(VOTED), "de")


def test_a_meeting_without_ballots_says_so():
    text = "\n".join(render(make_data({}, register=[]), "en"))
    assert "No ballots were cast." in text
    assert "0.00 m² (0.00 %)" in text


def _positions(pdf: bytes) -> list[list[tuple[float, str]]]:
    """Each page's text pieces with their height above the page's bottom edge (pt)."""
    pages = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        pieces: list[tuple[float, str]] = []

        def visit(text, cm, tm, font, size, pieces=pieces):
            if text.strip():
                pieces.append((tm[5] * cm[3] + cm[5], text))

        page.extract_text(visitor_text=visit)
        pages.append(pieces)
    return pages


def test_a_register_of_1000_ballots_breaks_across_pages_without_losing_or_cutting_a_line():
    answers = {voter: {Q1: Choice.yes, Q2: Choice.no} for voter in range(1, 1001)}
    roll = [RollEntry(voter, 1, 1, Decimal("54.30")) for voter in answers]
    result = count(total=Fraction(54300), roll=roll, questions=QUESTIONS, answers=answers, rules=RULES)
    long_name = "Abdurahmonov Abdulaziz Abdurashidovich ibn Abdulhamid " * 2
    register = [
        RegisterRow(
            sequence=voter,
            ballot_id=voter,
            voter_id=voter,
            apartment_number=str(voter),
            owner_name=long_name if voter % 97 == 0 else f"Owner {voter}",
            share=Fraction(1),
            weight=Fraction(Decimal("54.30")),
            channel=BallotChannel.online,
            proxy_name="Proxy Person" if voter % 89 == 0 else None,
            choices=answers[voter],
            hash=f"{voter:016x}" + "0" * 48,
            prev_hash="0" * 64,
            cast_at=datetime(2026, 10, 20, tzinfo=UTC),
        )
        for voter in answers
    ]
    data = make_data({}, register=register)
    data = ProtocolData(**{**data.__dict__, "count": Count(**{**result.__dict__})})
    pdf = protocol_pdf(data, "en")
    pages = pdf_text(pdf)
    assert len(pages) > 20
    receipts = [f"{voter:016x}" for voter in answers]
    found = [piece for page in pages for piece in page.split() if piece in set(receipts)]
    assert found == receipts  # each line once, in the chain's order, its receipt never cut
    register_pages = [page for page in pages if "Receipt" in page]
    assert len(register_pages) == len(pages) - 1  # the heading repeats on every register page
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
    # nothing but the footer below the bottom margin (16 mm = 45.4 pt)
    for pieces in _positions(pdf):
        low = [text.strip() for height, text in pieces if height < 45.3]
        assert all(text.startswith(("Meeting No.", "Page ")) for text in low), low


def test_the_protocol_says_whether_the_chain_was_checked():
    verified = ProtocolData(**{**make_data(VOTED).__dict__, "chain_verified": True})
    assert "Checked when this protocol was made" in "\n".join(render(verified, "en"))
    broken = ProtocolData(**{**make_data(VOTED).__dict__, "chain_verified": False})
    text = "\n".join(render(broken, "en"))
    assert "Warning: the ballots' hashes do not match" in text
    assert "Checked when" not in "\n".join(render(make_data(VOTED), "en"))


# --- from the database ---------------------------------------------------------------------


def test_a_closed_meetings_protocol_has_its_count_register_proxy_and_checked_chain(
    session, settings, tmp_path
):
    files = f.with_files(settings, tmp_path)
    company = make_company(session, name="Obod Uy MChJ")
    newcomer = make_company(session, name="Yangi Uy MChJ")
    building = make_building(session, company, address="Amir Temur koʻchasi 9")
    flat = make_apartment(session, building, number="12", area_m2=Decimal("60.00"))
    shop = make_apartment(session, building, number="S1", area_m2=Decimal("40.00"), residential=False)
    owner = make_owner(session, flat, share="1/2", full_name="Aliyev Anvar")
    make_owner(session, flat, share="1/2", full_name="Aliyeva Barno")  # does not vote
    shopkeeper = make_owner(session, shop, full_name="Choriyev Davron")
    proxy = make_person(session, full_name="Doniyorov Eldor")
    meeting = f.published(
        session,
        files,
        building,
        kinds=(DecisionKind.management_company,),
        company_id=newcomer.id,
        effective_from=f.ENDS.date() + timedelta(days=5),
    )
    f.vote(session, f.resident(session, owner), meeting, Choice.yes)
    [entry] = voting.voter_entries(session, f.resident(session, shopkeeper), meeting)
    clerk = f.manager_of(session, building)
    power = voting.submit_proxy(
        session,
        clerk,
        meeting,
        voter_id=entry.voter_id,
        proxy_person_id=proxy.id,
        document=f.pdf_bytes(),
        settings=files,
        now=f.VOTING,
    )
    voting.decide_proxy(session, clerk, power, accept=True, now=f.VOTING)
    f.vote(session, f.resident(session, proxy), meeting, Choice.yes)

    with pytest.raises(Conflict, match="closed"):  # while the vote runs, how each share voted is not shown
        protocol_data(session, meeting, settings=files)

    closing.close_meeting(session, meeting, actor=None, settings=files, now=f.AFTER)
    data = protocol_data(session, meeting, settings=files)

    assert data.building_address == "Amir Temur koʻchasi 9"
    assert (data.initiator, data.initiator_name) == (InitiatorKind.company, "Obod Uy MChJ")
    assert data.languages == ("ru", "en")
    # all votes 100 m2 (the shop's 40 included); 30 (half the flat) + 40 (the shop, by proxy) voted
    assert (data.count.total, data.count.cast, data.count.quorum) == (100, 70, True)
    assert (data.count.ballots, data.count.roll) == (2, 3)
    [counted] = data.count.questions
    assert (counted.votes_for, counted.outcome) == (70, Outcome.adopted)
    [asked] = data.questions
    assert asked.company_name == "Yangi Uy MChJ"
    assert asked.threshold == RULES.thresholds[DecisionKind.management_company]
    assert [
        (r.sequence, r.apartment_number, r.owner_name, r.share, r.weight, r.proxy_name) for r in data.register
    ] == [
        (1, "12", "Aliyev Anvar", Fraction(1, 2), 30, None),
        (2, "S1", "Choriyev Davron", 1, 40, "Doniyorov Eldor"),
    ]
    assert data.chain_head == meeting.chain_head == data.register[-1].hash
    assert data.chain_verified is True

    pages = render(data, "ru")
    text = "\n".join(pages)
    assert "Собственники решают." in text  # the meeting's own Russian text
    assert "Итог: Решение принято" in text
    assert "100,00 м²" in text and "70,00 м² (70,00 %)" in text
    assert "по доверенности: Doniyorov Eldor" in text
    assert data.register[1].hash[:16] in text and meeting.chain_head in text
    assert "Проверено при составлении протокола" in text
    uz = "\n".join(render(data, "uz"))
    assert "Savol 1" in uz and "Natija: Qaror qabul qilindi" in uz


def test_text_the_fonts_lack_or_that_never_breaks_still_makes_a_protocol():
    texts = {"en": ("Meeting 😀 会议 \x07 tab\there {nb} {page}", "line\r\n" + "x" * 3000 + " word" * 800)}
    data = make_data(VOTED, texts=texts)
    fee = ProtocolQuestion(
        id=13,
        position=3,
        kind=DecisionKind.management_fee,
        texts={"en": ("The fee " + "y" * 400, "")},
        threshold=RULES.thresholds[DecisionKind.management_fee],
        fee_minor=182300,
        effective_from=date(2027, 1, 1),
    )
    data = ProtocolData(**{**data.__dict__, "questions": [*data.questions, fee]})
    text = "\n".join(render(data, "en"))
    assert "Meeting" in text and "tab" in text and "{nb} {page}" in text  # printed as written
    assert f"Fee: {i18n.money(182300, 'UZS', 'en')} per m² a month" in text  # UZS1,823.00
    assert "Not counted" in text  # a question the count does not know is not given numbers
