"""`housing scores`: recompute a month's quality scores and print the ranking."""

from typing import Annotated

import typer
from rich.table import Table

from housing.cli.common import console, settings_or_exit


def scores(
    period: Annotated[str, typer.Option(help="The month to score, YYYY-MM")],
    district_id: Annotated[int | None, typer.Option(help="Show the ranking of this district only")] = None,
    top: Annotated[int, typer.Option(help="Lines of the ranking to print")] = 30,
) -> None:
    """Recompute and store every company's quality score for a month, then print the ranking."""
    from housing import clock
    from housing.building_money.deadlines import ReportDeadlines
    from housing.db import make_engine, session_scope
    from housing.scores import scoring
    from housing.scores import service as score_service

    settings = settings_or_exit()
    try:
        month = clock.month(clock.parse_period(period), settings.timezone)
    except ValueError as exc:
        console.print(f"[red]--period must look like 2026-10, not {period!r}[/red]")
        raise typer.Exit(2) from exc
    with session_scope(make_engine(settings)) as session:
        scored = score_service.recompute_month(
            session, month, now=clock.now(), deadlines=ReportDeadlines.of(settings.money, settings.timezone)
        )
        ranked, count = score_service.ranking(session, month.period, district_id=district_id, limit=top)
    codes = [c.code for c in scoring.COMPONENTS]
    table = Table(
        "rank", "company", "total", *[c.short for c in scoring.COMPONENTS],
        title=f"Quality scores {month.label}: {scored} companies scored, method {scoring.METHOD_VERSION}",
    )  # fmt: skip
    for score in ranked:
        by_code = {c.component: c for c in score.components}
        table.add_row(
            str(score.rank),
            score.company_name,
            f"{score.total:.2f}",
            *[_component_cell(by_code.get(code)) for code in codes],
        )
    console.print(table)
    console.print(
        "Each component: points (sample size). Every input: GET /api/v1/scores.csv?period=" + month.label
    )
    if count > len(ranked):
        console.print(f"... and {count - len(ranked)} more")


def _component_cell(component) -> str:
    if component is None or component.points is None:
        return "-"
    return f"{component.points:.1f} ({component.sample_size})"
