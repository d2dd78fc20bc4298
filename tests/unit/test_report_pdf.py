"""The report's PDF: in the reader's words (the pending translations merged), the same bytes
when printed again, a draft marked as one, and only the platform's languages."""

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from billing.building_accounts.report_pdf import report_pdf
from billing.building_accounts.reports import ReportData
from housing.building_money.rules import Quarter
from housing.errors import NotFound
from tests.unit.test_protocol import catalog, pdf_text

BUILDING = SimpleNamespace(address="Amir Temur ko'chasi 4")


def report(**kw) -> ReportData:
    fields = {
        "building_id": 1,
        "quarter": Quarter(2026, 3),
        "company_id": 1,
        "area_m2": Decimal("120.00"),
        "opening_balance_minor": 0,
        "income_minor": 9_000_000,
        "income_late_minor": 0,
        "expenses_minor": 2_500_000,
        "closing_balance_minor": 6_500_000,
        "collected_to_date_minor": 9_000_000,
        "debt_minor": 1_200_000,
        "accounts_in_debt": 1,
        "accounts": 2,
        "by_category": {"cleaning": 2_500_000},
        "works": [
            {
                "id": 1,
                "spent_on": "2026-08-20",
                "category": "cleaning",
                "amount_minor": 2_500_000,
                "supplier": "Toza Hovli",
                "description": "Подъезды убраны",
                "shared": False,
                "documents": [{"id": 3, "title": "Akt 12", "content_type": "application/pdf"}],
                "requests": [{"id": 7, "category": "roof_leak"}],
            }
        ],
        "published": True,
        "due_on": date(2026, 10, 30),
        "on_time": True,
        "published_at": datetime(2026, 10, 20, 9, tzinfo=UTC),
    } | kw
    return ReportData(**fields)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("uz", ["Toifalar bo'yicha xarajatlar", "Tozalash", "Hujjat: Akt 12", "2 tadan 1 tasi"]),
        ("ru", ["Расходы по статьям", "Уборка", "Документ: Akt 12", "1 из 2", "Подъезды убраны"]),
    ],
)
def test_the_pdf_speaks_the_readers_language(language: str, words: list[str]) -> None:
    text = " ".join(
        pdf_text(
            report_pdf(
                report(),
                BUILDING,
                language=language,
                timezone="Asia/Tashkent",
                translations=catalog(language),
            )
        )
    )
    for word in words:
        assert word in text, (language, word)


def test_printed_again_the_pdf_is_the_same_bytes_and_a_draft_says_so() -> None:
    first = report_pdf(report(), BUILDING, language="en", timezone="Asia/Tashkent")
    assert first == report_pdf(report(), BUILDING, language="en", timezone="Asia/Tashkent")
    draft = report(published=False, published_at=None, due_on=None, on_time=None)
    text = " ".join(pdf_text(report_pdf(draft, BUILDING, language="en", timezone="Asia/Tashkent")))
    assert "Draft: not published" in text
    late = " ".join(
        pdf_text(report_pdf(report(on_time=False), BUILDING, language="en", timezone="Asia/Tashkent"))
    )
    assert "late: due by October 30, 2026" in late


def test_only_the_platform_languages_print() -> None:
    with pytest.raises(NotFound):
        report_pdf(report(), BUILDING, language="de", timezone="Asia/Tashkent")
