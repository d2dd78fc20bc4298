"""The layout keeps its promises: the README's "Where things are" points at files that exist and
hold the rule, and no module grows past about 500 lines without saying why at its top."""

import ast
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("housing", "sensors", "billing")
LONG = 500
# A module over LONG lines says why in its docstring, with these words.
REASON = re.compile(r"\b(over|longer than) 500 lines\b", re.IGNORECASE)


def _where_table() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Where things are", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+?) \| `([^`]+)` \|$", section, re.MULTILINE)
    return dict(rows)


def test_every_answer_in_where_things_are_is_one_existing_file():
    table = _where_table()
    assert len(table) >= 7
    assert [path for path in table.values() if not (ROOT / path).is_file()] == []


def test_the_answers_hold_their_rules():
    table = _where_table()
    expected = {
        "the late-penalty rule": "def penalty_for_day(",
        "MQTT payload validation": "def parse_payload(",
        "who may see an invoice": "def visible_invoices(",
        "a request's deadline": "def deadline_for(",
        "hot water below 40 C billed as cold": "def cold_water_price(",
        "a webhook handled once": "def handle_event(",
        "a Payme call answered once per transaction": "def answer_call(",
        "the metered / average / norm choice": "def estimate_month(",
        "a notification sent at most once per channel": "def send_due(",
        "which notices may wait out quiet hours": "KINDS: dict[str, Kind]",
        "an owners' meeting's quorum and majorities": "DEFAULT_THRESHOLDS: dict[DecisionKind, str]",
        "one ballot per ownership share": "def _refuse_second(",
        "what residents' payments brought the company on a building": "def company_share(",
        "a shared expense split to the tiyin": "def split_exactly(",
        "a building's quarterly report late, and which company owes it": "def deadline_rows(",
        "an outlier in cost per m2": "THRESHOLD = 3.5",
    }
    assert set(expected) == set(table)
    for question, definition in expected.items():
        assert definition in (ROOT / table[question]).read_text(), question


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_documents_name_files_that_exist():
    """A path in backticks in the README or docs/ (`billing/runs/service.py`) is a file of the tree."""
    missing = []
    for document in _documents():
        for path in re.findall(
            r"`((?:housing|billing|sensors|tests|bench)/[\w/]+\.py)`", document.read_text()
        ):
            if not (ROOT / path).is_file():
                missing.append(f"{document.name}: {path}")
    assert missing == []


def test_the_documents_name_modules_and_objects_that_exist():
    """A dotted name in backticks (`billing.runs.prepared.PreparedRun`) imports and resolves."""
    missing = []
    for document in _documents():
        for name in re.findall(r"`((?:housing|billing|sensors)(?:\.\w+)+)", document.read_text()):
            if not _resolves(name):
                missing.append(f"{document.name}: {name}")
    assert missing == []


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def _modules() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    ]


def test_long_modules_say_why_at_their_top():
    unexplained = []
    for path in _modules():
        source = path.read_text()
        if source.count("\n") <= LONG:
            continue
        docstring = ast.get_docstring(ast.parse(source)) or ""
        if not REASON.search(docstring):
            unexplained.append(str(path.relative_to(ROOT)))
    assert unexplained == []


def test_every_module_says_what_it_is_for_in_a_few_lines():
    missing, long_ones = [], []
    for path in _modules():
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        name = str(path.relative_to(ROOT))
        if not docstring:
            missing.append(name)
        elif docstring.count("\n") > 25:
            long_ones.append(name)
    assert missing == []
    assert long_ones == []
