"""No benchmark script shadows a module it might import.

`python bench/X.py` puts bench/ first on sys.path, so a script named like a package (as
bench/billing.py once was: every script that imported `billing`, even through Alembic's
env.py, then failed) would be imported in its place.
"""

import sys
from importlib.machinery import PathFinder
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _importable_elsewhere(name: str) -> str | None:
    """Where `name` would be imported from with bench/ off the path, or None if from nowhere."""
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return "the standard library"
    path = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
    spec = PathFinder.find_spec(name, path)
    return None if spec is None else str(spec.origin or spec.submodule_search_locations)


def test_no_bench_script_is_named_like_an_importable_module():
    scripts = sorted(path.stem for path in BENCH.glob("*.py"))
    assert {"web", "billing_run", "ingest", "seed", "scores", "benchkit"} <= set(scripts)
    clashes = {name: where for name in scripts if (where := _importable_elsewhere(name))}
    assert clashes == {}, f"bench scripts named like importable modules: {clashes}"


def test_the_check_sees_a_clash():
    """The same lookup finds what a bench script must not be named after."""
    for name in ("billing", "housing", "sensors", "sqlalchemy", "json", "sys"):
        assert _importable_elsewhere(name) is not None, name
    assert _importable_elsewhere("billing_run") is None
