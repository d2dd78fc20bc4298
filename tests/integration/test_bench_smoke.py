"""Every benchmark script runs as its docstring says, once, at a tiny size.

The command is read from the script's own docstring (the indented `python bench/X.py ...`
lines), so a docstring that no longer runs fails here. Only the sizes are made tiny, the
database URL points at a scratch database beside the test database (`<test db>_bench`:
the scripts replace its schema), and the options a rerun needs are added (`--reset`,
`--reseed`, a free `--port`). Each must exit 0 and print its table. PostgreSQL only: the
benchmarks measure PostgreSQL and refuse anything else.
"""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from tests.conftest import TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
ON_POSTGRES = "postgresql" in (TEST_DATABASE_URL or "")

# Per script: the documented options made tiny (each must be in the documented command, so a
# renamed option fails here), and the options added for a rerun on a used database.
TINY = {
    "seed": ({"--apartments": "300", "--runs": "1"}, ["--reset"]),
    "scores": ({"--companies": "5", "--requests": "2000", "--runs": "1"}, ["--reset"]),
    "billing_run": ({"--apartments": "60", "--workers": ["1", "2"]}, ["--reseed"]),
    "notify": ({"--apartments": "60", "--workers": "1", "--runs": "1"}, ["--reseed", "--port", "{port}"]),
    "web": (
        {"--apartments": "300", "--clients": "2", "--requests": "20", "--workers": "1"},
        ["--requests-per-company", "5", "--reseed", "--port", "{port}"],
    ),
    "ingest": (
        {"--messages": "300", "--publishers": "1", "--runs": "1"},
        ["--meters", "20", "--port", "{port}"],
    ),
    "building_reports": ({"--buildings": "20", "--apartments": "5", "--runs": "1"}, ["--reset"]),
    "meetings": (
        {
            "--buildings": "300",
            "--meetings": "40",
            "--apartments": "20",
            "--runs": "1",
            "--clients": "2",
            "--requests": "20",
            "--workers": "1",
        },
        ["--reset", "--port", "{port}"],
    ),
    "building_costs": (
        {"--buildings": "300", "--runs": "1", "--clients": "2", "--requests": "20", "--workers": "1"},
        ["--reset", "--port", "{port}"],
    ),
    "twin_map": ({"--buildings": "300", "--apartments": "4", "--requests": "4"}, ["--reset"]),
    "twin_building": ({"--apartments": "60", "--city-buildings": "30", "--requests": "4"}, ["--reset"]),
    "twin_live": (
        {
            "--buildings": "12",
            "--apartments": "4",
            "--streams": "6",
            "--watched": "3",
            "--rate": "200",
            "--seconds": "5",
            "--client-processes": "1",
        },
        ["--reset", "--port", "{port}"],
    ),
}
# What each prints in its table: a row label of the baseline and one of our own code.
PRINTS = {
    "seed": ("baseline: COPY", "seed_city"),
    "scores": ("baseline: bare count", "compute_scores"),
    "billing_run": ("(a) baseline", "bill_period, 2 workers"),
    "notify": ("(a) baseline: bare smtplib loop", "(b) outbox -> SMTP"),
    "web": ("baseline: GET", "dispatcher: GET"),
    "ingest": ("(a) bare paho subscriber", "(b) housing ingest"),
    "meetings": ("baseline: SQL sum", "official: GET /city/meetings"),
    "building_reports": ("baseline: SQL sum of the payments", "publish_reports"),
    "building_costs": ("baseline: bare GROUP BY", "official: GET /city/money"),
    "twin_map": ("baseline: SQL SELECT id, latitude, longitude", "official: GET /api/v1/map/buildings"),
    "twin_building": ("baseline: SQL SELECT the building's", "resident: GET /api/v1/buildings/{id}/state"),
    "twin_live": ("baseline: no stream", "6 streams, 3 buildings"),
}


def documented_command(script: Path) -> list[str]:
    """The `python bench/X.py ...` command of the script's docstring, continuation lines joined."""
    text = script.read_text()
    docstring = text[text.index('"""') + 3 : text.index('"""', text.index('"""') + 3)]
    found = re.search(r"^ +(python bench/\S+\.py(?:[^\n]*\\\\\n)*[^\n]*)$", docstring, re.MULTILINE)
    assert found, f"{script.name}: no `python bench/...` command in its docstring"
    return shlex.split(found.group(1).replace("\\\\\n", " "))


def test_each_script_documents_its_own_command_and_the_smoke_knows_it():
    scripts = {path.stem for path in BENCH.glob("*.py")} - {"benchkit"}
    assert scripts == set(TINY), "a benchmark script without a smoke run (or a stale entry in TINY)"
    for name in sorted(scripts):
        command = documented_command(BENCH / f"{name}.py")
        assert command[:2] == ["python", f"bench/{name}.py"], command
        assert set(TINY[name][0]) <= set(command), f"{name}: the docstring lost {set(TINY[name][0])}"


def test_the_docs_name_only_scripts_and_options_that_exist():
    """docs/benchmarks.md and the README run `python bench/X.py --option ...`: each exists."""
    for doc in (ROOT / "docs" / "benchmarks.md", ROOT / "README.md"):
        commands = re.findall(r"python (bench/[\w.]+\.py)((?:[^\n`]*\\\n)*[^\n`]*)", doc.read_text())
        assert commands, doc
        for script, args in commands:
            source = (ROOT / script).read_text()
            for option in re.findall(r"(--[a-z][a-z-]*)", args):
                assert f'"{option}"' in source, f"{doc.name}: {script} has no option {option}"


def _free_port() -> int:
    """A free loopback port: from HOUSING_TEST_PORTS (`18880-18889`) when given, else any."""
    wanted = os.environ.get("HOUSING_TEST_PORTS")
    candidates = range(int(wanted.split("-")[0]), int(wanted.split("-")[1]) + 1) if wanted else [0]
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free port in {wanted}")


@pytest.fixture(scope="module")
def bench_url() -> str:
    """`<test database>_bench` on the test server, created when missing."""
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_bench"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def tiny_command(name: str, url: str) -> list[str]:
    command = documented_command(BENCH / f"{name}.py")
    sizes, extra = TINY[name]
    args: list[str] = []
    i = 2
    while i < len(command):
        word = command[i]
        i += 1
        values = []
        while i < len(command) and not command[i].startswith("--"):
            values.append(command[i])
            i += 1
        if word in sizes:
            values = sizes[word] if isinstance(sizes[word], list) else [sizes[word]]
        values = [url if v.startswith("postgresql") else v for v in values]
        args += [word, *values]
    port = str(_free_port())
    return [sys.executable, f"bench/{name}.py", *args, *[e.replace("{port}", port) for e in extra]]


@pytest.mark.postgres
@pytest.mark.skipif(
    not ON_POSTGRES, reason="the benchmarks measure PostgreSQL: set HOUSING_TEST_DATABASE_URL"
)
@pytest.mark.parametrize("name", sorted(TINY))
def test_the_benchmark_runs_as_documented_at_a_tiny_size(name, bench_url):
    if name in ("ingest", "twin_live") and not shutil.which("mosquitto"):
        pytest.skip(f"bench/{name}.py starts a private Mosquitto: install mosquitto")
    command = tiny_command(name, bench_url)
    environment = os.environ | {"COLUMNS": "200"}  # rich's tables: wide enough not to wrap labels
    environment.pop("HOUSING_TEST_DATABASE_URL", None)
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=240)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{shlex.join(command)} exited {done.returncode}:\n{output[-3000:]}"
    assert "┏" in done.stdout and "└" in done.stdout, f"{name}: no table in:\n{done.stdout[-2000:]}"
    for label in PRINTS[name]:
        assert label in done.stdout, f"{name}: no row {label!r} in:\n{done.stdout[-2000:]}"
    print(f"{name}: {time.monotonic() - started:.0f} s")
