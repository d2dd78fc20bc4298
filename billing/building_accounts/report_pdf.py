"""A building's quarterly report as a PDF (fpdf2, the shipped DejaVu fonts in `housing.fonts`):
the figures, the expenses by category, the works with their documents, the corrections and the
residents' debt in aggregate, in Uzbek, Russian or English.

Printed again, the same report gives the same bytes: the document's date is the report's
publishing moment (a draft's is its quarter's end), and nothing else varies.
"""

from datetime import UTC, datetime, time

from babel.support import NullTranslations
from fastapi.responses import Response
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from billing.building_accounts.reports import ReportData
from billing.building_accounts.words import category_label
from housing import fonts, i18n
from housing.errors import NotFound
from housing.registry.models import Building

_BODY = 9.5
_SMALL = 8
_LINE = 5.2
_AMOUNT_WIDTH = 50


def pdf_response(data: ReportData, building: Building, *, language: str, timezone: str) -> Response:
    """The report's PDF, shown in the browser as report-<building>-<quarter>.pdf."""
    return Response(
        report_pdf(data, building, language=language, timezone=timezone),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="report-{building.id}-{data.quarter}.pdf"'},
    )


def report_pdf(
    data: ReportData,
    building: Building,
    *,
    language: str,
    timezone: str,
    translations: NullTranslations | None = None,
) -> bytes:
    """The report in `language` as PDF bytes; `translations` replaces the catalog (a test)."""
    if language not in i18n.LANGUAGES:
        raise NotFound(
            f"there is no report in {language!r}; the languages are {', '.join(i18n.LANGUAGES)}",
            field="language",
        )
    catalog = translations if translations is not None else i18n.translations(language)
    return _Writer(data, building, language, timezone, catalog).write()


class _Writer:
    def __init__(
        self, data: ReportData, building: Building, language: str, timezone: str, catalog: NullTranslations
    ) -> None:
        self.data, self.building, self.language, self.timezone = data, building, language, timezone
        self._ = catalog.gettext
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.add_font("DejaVu", "", str(fonts.REGULAR))
        pdf.add_font("DejaVu", "B", str(fonts.BOLD))
        pdf.set_margins(15, 15, 15)
        pdf.set_auto_page_break(True, margin=15)
        pdf.set_title(self.title())
        pdf.set_lang(language)
        pdf.set_creator("housing")
        made = data.published_at or datetime.combine(data.quarter.end, time(), UTC)
        pdf.set_creation_date(made)
        self.pdf = pdf

    def title(self) -> str:
        return self._("Report on {address} for {quarter}").format(
            address=self.building.address, quarter=str(self.data.quarter)
        )

    def money(self, minor: int) -> str:
        return i18n.money(minor, self.data.currency, self.language)

    def write(self) -> bytes:
        _, pdf, data = self._, self.pdf, self.data
        pdf.add_page()
        pdf.set_font("DejaVu", "B", 14)
        pdf.multi_cell(0, 7, self.title(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("DejaVu", "", _SMALL)
        if data.published and data.published_at is not None:
            status = _("Published on {moment}").format(
                moment=i18n.moment(data.published_at, self.language, self.timezone)
            )
            if data.on_time is False:
                status += " · " + _("late: due by {day}").format(day=i18n.day(data.due_on, self.language))
        else:
            status = _("Draft: not published, figures as of today")
        pdf.multi_cell(0, 4.5, status, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
        self.heading(_("The account"))
        for label, amount in (
            (_("Balance at the start of the quarter"), data.opening_balance_minor),
            (_("Income: residents' payments for the company's services"), data.income_minor),
            (_("of it, paid earlier and booked late"), data.income_late_minor),
            (_("Expenses"), data.expenses_minor),
            (_("Balance carried forward"), data.closing_balance_minor),
        ):
            self.row(label, self.money(amount))
        self.heading(_("Expenses by category"))
        if not data.by_category:
            self.text(_("No expenses in this quarter."))
        for category, amount in data.by_category.items():
            self.row(_(category_label(category)), self.money(amount))
        self.heading(_("Works done"))
        if not data.works:
            self.text(_("No works in this quarter."))
        for work in data.works:
            self.item(work)
        if data.corrections:
            self.heading(_("Corrections of earlier expenses"))
            for correction in data.corrections:
                self.item(correction)
        self.heading(_("Residents' debt at the end of the quarter"))
        self.row(_("Debt of all accounts together"), self.money(data.debt_minor))
        self.row(
            _("Accounts in debt"),
            _("{count} of {accounts}").format(count=data.accounts_in_debt, accounts=data.accounts),
        )
        return bytes(pdf.output())

    def heading(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font("DejaVu", "B", 11)
        self.pdf.multi_cell(0, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.set_font("DejaVu", "", _BODY)

    def text(self, text: str) -> None:
        self.pdf.multi_cell(0, _LINE, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def row(self, label: str, value: str) -> None:
        pdf = self.pdf
        width = pdf.w - pdf.l_margin - pdf.r_margin - _AMOUNT_WIDTH
        top, page = pdf.get_y(), pdf.page_no()
        pdf.multi_cell(width, _LINE, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
        if pdf.page_no() != page:  # the label broke over a page: the amount goes with its end
            top = pdf.t_margin
        pdf.set_xy(pdf.l_margin + width, top)
        pdf.multi_cell(_AMOUNT_WIDTH, _LINE, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def item(self, work: dict) -> None:
        _ = self._
        spent_on = datetime.fromisoformat(work["spent_on"]).date()
        label = f"{i18n.day(spent_on, self.language, 'short')} · {_(category_label(work['category']))}"
        if work.get("supplier"):
            label += f" · {work['supplier']}"
        self.pdf.set_font("DejaVu", "B", _BODY)
        self.row(label, self.money(work["amount_minor"]))
        self.pdf.set_font("DejaVu", "", _BODY)
        details = []
        if work.get("description"):
            details.append(work["description"])
        if work.get("shared"):
            details.append(_("A part of an expense shared with other buildings"))
        corrects = work.get("corrects")
        if corrects:
            details.append(
                _("Corrects the expense of {day} ({quarter}): {amount}").format(
                    day=corrects["spent_on"],
                    quarter=corrects["quarter"],
                    amount=self.money(corrects["amount_minor"]),
                )
            )
        for document in work.get("documents", []):
            details.append(_("Document: {title}").format(title=document["title"] or document["id"]))
        if work.get("requests"):
            numbers = ", ".join(f"#{r['id']}" for r in work["requests"])
            details.append(_("Answers requests {numbers}").format(numbers=numbers))
        for line in details:
            self.pdf.set_x(self.pdf.l_margin + 4)
            self.pdf.multi_cell(0, _LINE, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
