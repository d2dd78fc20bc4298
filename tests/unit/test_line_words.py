"""Every source an invoice line can have is said in words, in each language, with its figures rounded."""

import pytest

from billing.invoices.line_words import source_text
from billing.models import QuantitySource
from housing.i18n import LANGUAGES

EXPLANATIONS = {
    QuantitySource.metered_estimated: {"estimated_hours": "12.5"},
    QuantitySource.recalculation: {"months": ["2026-09", "2026-10"]},
}


@pytest.mark.parametrize("source", list(QuantitySource))
def test_every_source_is_said_in_words_in_every_language(source):
    said = {language: str(source_text(source, EXPLANATIONS.get(source), language)) for language in LANGUAGES}

    assert all(text and text != source.value for text in said.values()), said
    assert said["ru"] != said["en"] and said["uz"] != said["en"], said  # translated, not the English


def test_the_figures_in_the_words_are_the_languages_own():
    estimated = {"estimated_hours": "12.5"}
    assert "12.5 hours" in source_text("metered_estimated", estimated, "en")
    assert "12,5 ч" in source_text("metered_estimated", estimated, "ru")
    months = {"months": ["2026-09", "2026-10"]}
    assert "September 2026, October 2026" in source_text("recalculation", months, "en")
    assert "сентябрь 2026, октябрь 2026" in source_text("recalculation", months, "ru")
    spread = source_text("metered", {"covers": 3}, "en")
    assert spread == "by your meter's readings: this month's share of the 3 months since the reading before"
    shared = source_text("shared", {"estimated_hours": "6.0"}, "en")
    assert "6 hours of whose month are estimated" in shared


def test_a_stored_code_or_figure_is_escaped_not_trusted():
    assert str(source_text("<b>odd</b>", None, "en")) == "&lt;b&gt;odd&lt;/b&gt;"
    assert "?" in source_text("metered_estimated", {"estimated_hours": "<script>"}, "en")
