"""The monthly consumption chart's geometry."""

from datetime import date
from decimal import Decimal

from sensors.meters.chart import HEIGHT, WIDTH, bar_chart


def test_bars_are_scaled_to_the_largest_month_and_a_month_without_readings_has_none():
    months = [
        (date(2026, m, 1), q) for m, q in [(8, Decimal(4)), (9, None), (10, Decimal(8)), (11, Decimal(2))]
    ]

    chart = bar_chart(months)

    tallest = max(bar.height for bar in chart.bars)
    heights = [bar.height for bar in chart.bars]
    assert heights[2] == tallest and heights[0] == tallest / 2 and heights[3] == tallest / 4
    assert heights[1] == 0 and chart.bars[1].quantity is None
    assert [bar.current for bar in chart.bars] == [False, False, False, True]
    assert all(bar.y + bar.height == chart.baseline for bar in chart.bars)
    assert chart.bars[0].x >= 0 and chart.bars[-1].x + chart.bars[-1].width <= WIDTH
    assert chart.bars[2].y > 0 and chart.baseline < HEIGHT  # room for the labels


def test_no_consumption_at_all_draws_no_bars():
    chart = bar_chart([(date(2026, 10, 1), None), (date(2026, 11, 1), Decimal(0))])

    assert [bar.height for bar in chart.bars] == [0, 0]
