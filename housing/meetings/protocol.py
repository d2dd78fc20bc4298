"""The protocol of an owners' meeting: a PDF per language, made from the stored count.

`protocol_source.protocol_data` gathers what the protocol says from the database (a closed
meeting only: the register shows how each share voted, which nobody sees while the vote runs);
`protocol_pdf` lays it out with fpdf2 and the shipped DejaVu fonts (Latin with the Uzbek letters, Cyrillic):
the meeting and its dates, the quorum, each question with its votes for, against and abstaining
in m2 and in percent of all votes and of the votes cast on it (rounded half up to 0.01 by
`rules.shown`, from the exact fractions), its threshold and result, the register of ballots
(apartment, owner, share, weight, channel, choices, receipt) and the head of the ballots' hash
chain, which an owner compares with the one the meeting's page shows. Every page is numbered.

The words come from the pages' catalogs (`housing.i18n`); a meeting's own texts are printed in
the protocol's language, or in another one the meeting has when it lacks that one.
"""

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from fractions import Fraction

from babel.support import NullTranslations
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from housing import fonts, i18n
from housing.announcements.languages import pick
from housing.errors import NotFound
from housing.meetings.chain import RECEIPT_DIGITS, receipt_of
from housing.meetings.counting import QuestionCount
from housing.meetings.models import BallotChannel, InitiatorKind
from housing.meetings.protocol_source import ProtocolData
from housing.meetings.receipts import RegisterRow
from housing.meetings.rules import Choice, DecisionKind, Outcome, Threshold, percent, shown

# Replaced by the number of pages when the PDF is written; rarer than fpdf2's "{nb}", which an
# owner's name or a title could contain.
PAGES_ALIAS = "{#protocol-pages#}"


def text_in(texts: Mapping[str, tuple[str, str]], language: str) -> tuple[str, str]:
    """A text in `language`, else in the first of the platform's languages the meeting has."""
    return pick(texts, language)[1] if texts else ("", "")


# --- the PDF ---------------------------------------------------------------------------------

_BODY = 9
_SMALL = 7.5
_LINE = 4.6


class _Document(FPDF):
    def __init__(self, footer_text: str, reference: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._footer_text = footer_text
        self._reference = reference
        self.add_font("DejaVu", "", str(fonts.REGULAR))
        self.add_font("DejaVu", "B", str(fonts.BOLD))
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=16)
        self.alias_nb_pages(PAGES_ALIAS)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font("DejaVu", "", _SMALL)
        self.set_text_color(90)
        self.cell(0, 4, self._reference, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, self._footer_text.replace("{page}", str(self.page_no())), align="R")
        self.set_text_color(0)


def protocol_pdf(data: ProtocolData, language: str, *, translations: NullTranslations | None = None) -> bytes:
    """The protocol in `language` (uz, ru or en) as PDF bytes. `translations` replaces the
    language's catalog (a test passing the pending translations)."""
    if language not in i18n.LANGUAGES:
        raise NotFound(
            f"there is no protocol in {language!r}; the languages are {', '.join(i18n.LANGUAGES)}",
            field="language",
        )
    catalog = translations if translations is not None else i18n.translations(language)
    return _Writer(data, language, catalog).write()


class _Writer:
    def __init__(self, data: ProtocolData, language: str, catalog: NullTranslations) -> None:
        self.data = data
        self.language = language
        self._ = catalog.gettext
        self._measured: dict[tuple[str, str], float] = {}
        _ = self._
        title = text_in(data.texts, language)[0]
        self.pdf = _Document(
            footer_text=_("Page %(page)s of %(last)s") % {"page": "{page}", "last": PAGES_ALIAS},
            reference=_("Meeting No. {number}").format(number=data.meeting_id),
        )
        self.pdf.set_title(title)
        self.pdf.set_lang(language)
        self.pdf.set_creator("housing")
        if data.closed_at is not None:  # the same meeting gives the same bytes, whenever it is printed
            self.pdf.set_creation_date(data.closed_at)

    # numbers and words

    def m2(self, value: Fraction) -> str:
        return i18n.number(shown(value), self.language, "#,##0.00")

    def pct(self, part: Fraction, whole: Fraction) -> str:
        return f"{i18n.number(shown(percent(part, whole)), self.language, '#,##0.00')} %"

    def moment(self, value: datetime | None) -> str:
        if value is None:
            return "-"
        return i18n.moment(value, self.language, self.data.timezone)

    def day(self, value: date | None) -> str:
        return "-" if value is None else i18n.day(value, self.language)

    def rule(self, threshold: Threshold) -> str:
        _ = self._
        if threshold.of_all:
            words = (
                _("more than {fraction} of all votes")
                if threshold.strict
                else _("at least {fraction} of all votes")
            )
        else:
            words = (
                _("more than {fraction} of the votes cast")
                if threshold.strict
                else _("at least {fraction} of the votes cast")
            )
        return words.format(fraction=threshold.fraction)

    def outcome(self, outcome: Outcome) -> str:
        _ = self._
        return {
            Outcome.adopted: _("Adopted"),
            Outcome.rejected: _("Not adopted"),
            Outcome.no_quorum: _("Not decided: no quorum"),
        }[outcome]

    def kind(self, kind: DecisionKind) -> str:
        _ = self._
        return {
            DecisionKind.ordinary: _("Ordinary decision"),
            DecisionKind.management_fee: _("Management fee"),
            DecisionKind.management_company: _("Choice of the management company"),
            DecisionKind.capital_repair: _("Capital repair"),
            DecisionKind.common_property: _("Use of common property"),
            DecisionKind.reconstruction: _("Reconstruction"),
            DecisionKind.adjacent_land: _("Building on adjacent land"),
            DecisionKind.loan: _("Loan"),
        }[kind]

    def choice(self, choice: Choice) -> str:
        _ = self._
        return {Choice.yes: _("for"), Choice.no: _("against"), Choice.abstain: _("abstain")}[choice]

    def channel(self, row: RegisterRow) -> str:
        _ = self._
        words = _("online") if row.channel == BallotChannel.online else _("paper")
        if row.proxy_name:
            words += "\n" + _("by proxy: {name}").format(name=row.proxy_name)
        return words

    def initiator(self) -> str:
        _ = self._
        if self.data.initiator == InitiatorKind.company:
            return _("the management company {name}").format(name=self.data.initiator_name or "")
        if self.data.initiator == InitiatorKind.admin:
            return _("the platform's administrator")
        return _("owners (an initiative signed by owners)")

    # layout

    def para(self, height: float, text: str, **kw) -> None:
        self.pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, **kw)

    def write(self) -> bytes:
        pdf = self.pdf
        pdf.add_page()
        self.heading()
        self.facts()
        self.questions()
        self.register()
        self.chain()
        return bytes(pdf.output())

    def heading(self) -> None:
        _, pdf, data = self._, self.pdf, self.data
        title, body = text_in(data.texts, self.language)
        pdf.set_font("DejaVu", "B", 13)
        self.para(6.5, _("Protocol of the general meeting of owners"), align="C")
        pdf.set_font("DejaVu", "", 10)
        self.para(5.5, data.building_address, align="C")
        pdf.ln(3)
        pdf.set_font("DejaVu", "B", 11)
        self.para(5.5, title)
        if body:
            pdf.set_font("DejaVu", "", _BODY)
            self.para(_LINE, body)
        pdf.ln(2)

    def facts(self) -> None:
        _, pdf, data, count = self._, self.pdf, self.data, self.data.count
        rows = [
            (_("Initiator"), self.initiator()),
            (_("Form"), _("absentee voting on the platform")),
            (_("Notice published"), self.moment(data.published_at)),
            (_("Record date (who votes)"), self.day(data.record_date)),
            (_("Voting period"), f"{self.moment(data.voting_starts)} \u2013 {self.moment(data.voting_ends)}"),
            (_("Closed"), self.moment(data.closed_at)),
            (_("All votes (area of all premises)"), _("{area} m²").format(area=self.m2(count.total))),
            (
                _("Votes cast"),
                _("{area} m²").format(area=self.m2(count.cast)) + f" ({self.pct(count.cast, count.total)})",
            ),
            (
                _("Ballots"),
                _("{ballots} of {roll} owners' shares").format(ballots=count.ballots, roll=count.roll),
            ),
            (
                _("Quorum"),
                f"{self.rule(data.quorum)}: " + (_("reached") if count.quorum else _("not reached")),
            ),
        ]
        pdf.set_font("DejaVu", "", _BODY)
        with pdf.table(
            col_widths=(62, 118),
            first_row_as_headings=False,
            line_height=_LINE,
            borders_layout="HORIZONTAL_LINES",
            text_align="LEFT",
        ) as table:
            for label, value in rows:
                row = table.row()
                row.cell(label)
                row.cell(value)
        pdf.ln(4)

    def questions(self) -> None:
        _, pdf, data = self._, self.pdf, self.data
        counts: dict[int, QuestionCount] = {q.question_id: q for q in data.count.questions}
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(0, 7, _("Questions and results"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for question in sorted(data.questions, key=lambda q: q.position):
            result = counts.get(question.id)
            title, body = text_in(question.texts, self.language)
            if pdf.will_page_break(40):
                pdf.add_page()
            pdf.set_font("DejaVu", "B", 10)
            self.para(5.2, f"{question.position}. {title}")
            pdf.set_font("DejaVu", "", _BODY)
            if body:
                self.para(_LINE, body)
            details = [_("Decision kind: {kind}").format(kind=self.kind(question.kind))]
            if question.company_name:
                details.append(_("The company: {name}").format(name=question.company_name))
            if question.fee_minor is not None:
                fee = i18n.money(question.fee_minor, question.currency, self.language)
                details.append(_("Fee: {amount} per m² a month").format(amount=fee))
            if question.effective_from is not None:
                details.append(_("Takes effect on {day}").format(day=self.day(question.effective_from)))
            details.append(_("Needed to adopt: {rule}").format(rule=self.rule(question.threshold)))
            self.para(_LINE, "\n".join(details))
            pdf.ln(1)
            if result is None:
                self.para(_LINE, _("Not counted"))
                pdf.ln(3)
                continue
            total, cast = data.count.total, result.cast
            with pdf.table(
                col_widths=(50, 40, 45, 45),
                line_height=_LINE,
                text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
            ) as table:
                head = table.row()
                for heading in (_("Vote"), _("Votes, m²"), _("Of all votes"), _("Of the votes cast")):
                    head.cell(heading)
                for label, votes in (
                    (_("For"), result.votes_for),
                    (_("Against"), result.votes_against),
                    (_("Abstain"), result.votes_abstain),
                    (_("Total cast"), cast),
                ):
                    row = table.row()
                    row.cell(label)
                    row.cell(self.m2(votes))
                    row.cell(self.pct(votes, total))
                    row.cell(self.pct(votes, cast))
            pdf.set_font("DejaVu", "B", 10)
            self.para(6, _("Result: {outcome}").format(outcome=self.outcome(result.outcome)))
            pdf.set_font("DejaVu", "", _BODY)
            pdf.ln(3)

    # The register: a landscape table drawn cell by cell (fpdf2's table() lays out 1,000 rows in
    # tens of seconds; a row here measures its text only when it may not fit on one line).
    _REGISTER_WIDTHS = (10, 20, 56, 14, 24, 50, 61, 32)  # 267 mm: A4 landscape within the margins
    _REGISTER_ALIGN = ("R", "L", "L", "R", "R", "L", "L", "L")
    _REGISTER_LINE = 3.4
    _PAD = 0.6

    def register(self) -> None:
        _, pdf, data = self._, self.pdf, self.data
        positions = {q.id: q.position for q in data.questions}
        pdf.add_page(orientation="L")
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(0, 7, _("Register of ballots"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("DejaVu", "", _SMALL)
        self.para(
            3.8,
            _(
                "Each line is one owner's share that voted, in the order the ballots were received."
                " The receipt is the first {digits} characters of the ballot's hash: an owner finds"
                " their ballot by it."
            ).format(digits=RECEIPT_DIGITS),
        )
        pdf.ln(2)
        if not data.register:
            pdf.set_font("DejaVu", "", _BODY)
            self.para(_LINE, _("No ballots were cast."))
            return
        headings = (
            _("No."),
            _("Apartment"),
            _("Owner"),
            _("Share"),
            _("Weight, m²"),
            _("Channel"),
            _("Choices"),
            _("Receipt"),
        )
        self._register_row(headings, bold=True)
        pdf.set_font("DejaVu", "", _SMALL)
        for line in data.register:
            choices = "; ".join(
                f"{positions.get(question_id, '?')}: {self.choice(choice)}"
                for question_id, choice in sorted(
                    line.choices.items(), key=lambda item: positions.get(item[0], 0)
                )
            )
            cells = (
                str(line.sequence),
                line.apartment_number,
                line.owner_name,
                str(line.share),
                self.m2(line.weight),
                self.channel(line),
                choices or "-",
                receipt_of(line.hash),
            )
            if self._register_row(cells, fits_check=True):
                self._register_row(headings, bold=True)  # a new page: its heading first
                pdf.set_font("DejaVu", "", _SMALL)
                self._register_row(cells)

    def _register_row(self, cells: Sequence[str], *, bold: bool = False, fits_check: bool = False) -> bool:
        """Draw one row; with `fits_check`, start a new page instead when it does not fit there
        (and say so: True, nothing drawn)."""
        pdf = self.pdf
        if bold:
            pdf.set_font("DejaVu", "B", _SMALL)
        lines = [self._lines(text, width) for text, width in zip(cells, self._REGISTER_WIDTHS, strict=True)]
        height = max(len(cell) for cell in lines) * self._REGISTER_LINE + 2 * self._PAD
        if pdf.will_page_break(height):
            pdf.add_page(orientation="L")
            if fits_check:
                return True
        x, y = pdf.l_margin, pdf.get_y()
        if bold:
            pdf.set_fill_color(235)
            pdf.rect(x, y, sum(self._REGISTER_WIDTHS), height, style="F")
        baseline = self._PAD + (self._REGISTER_LINE + pdf.font_size * 0.7) / 2
        for cell, width, align in zip(lines, self._REGISTER_WIDTHS, self._REGISTER_ALIGN, strict=True):
            for index, text in enumerate(cell):
                # text() at a baseline: several times faster than cell(), which the widths make needless
                left = x + width - pdf.c_margin - self._width(text) if align == "R" else x + pdf.c_margin
                pdf.text(left, y + baseline + index * self._REGISTER_LINE, text)
            x += width
        pdf.set_draw_color(180)
        pdf.line(pdf.l_margin, y + height, pdf.l_margin + sum(self._REGISTER_WIDTHS), y + height)
        pdf.set_draw_color(0)
        pdf.set_xy(pdf.l_margin, y + height)
        return False

    def _lines(self, text: str, width: float) -> list[str]:
        pdf = self.pdf
        if "\n" not in text and self._width(text) <= width - 2 * pdf.c_margin:
            return [text]
        return pdf.multi_cell(width, self._REGISTER_LINE, text, dry_run=True, output="LINES")

    def _width(self, text: str) -> float:
        """A text's width in the current font; the register repeats most of its values (shares,
        weights, channels, choices), each measured once."""
        key = (text, self.pdf.font_style)
        width = self._measured.get(key)
        if width is None:
            width = self._measured[key] = self.pdf.get_string_width(text)
        return width

    def chain(self) -> None:
        _, pdf, data = self._, self.pdf, self.data
        pdf.ln(4)
        if pdf.will_page_break(20):
            pdf.add_page()
        pdf.set_font("DejaVu", "B", _BODY)
        self.para(_LINE, _("Head of the ballots' hash chain"))
        pdf.set_font("DejaVu", "", _BODY)
        self.para(_LINE, data.chain_head)
        pdf.set_font("DejaVu", "", _SMALL)
        self.para(
            3.8,
            _(
                "The hash of the last ballot; each ballot's hash covers the one before it, so a"
                " ballot changed, removed or added after the close changes this value."
            ),
        )
        if data.chain_verified is None:
            return
        pdf.ln(1)
        if data.chain_verified:
            self.para(
                3.8,
                _(
                    "Checked when this protocol was made: every ballot's hash matches its fields and"
                    " the ballot before it, up to this head."
                ),
            )
        else:
            pdf.set_font("DejaVu", "B", _BODY)
            self.para(
                _LINE,
                _(
                    "Warning: the ballots' hashes do not match their fields or this head; the register"
                    " may have been changed after the ballots were cast."
                ),
            )
