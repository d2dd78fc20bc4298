"""The twin's city lists as CSV: the counts by grade and district, and the week's changes."""

from housing.csvtext import blank, csv_text
from housing.twin.city import ChangeRow, CityGrades

COUNTS_HEADER = ("district_id", "district", "green", "yellow", "red", "ungraded", "total")
CHANGES_HEADER = ("changed_on", "building_id", "address", "district", "company", "previous", "grade")


def counts_csv(counts: CityGrades) -> str:
    rows = [*counts.districts, counts.city]
    return csv_text(
        COUNTS_HEADER,
        (
            [
                blank(c.district_id),
                c.district if c.district_id is not None else "all districts",
                c.green,
                c.yellow,
                c.red,
                c.ungraded,
                c.total,
            ]
            for c in rows
        ),
    )


def changes_csv(changes: list[ChangeRow]) -> str:
    return csv_text(
        CHANGES_HEADER,
        (
            [
                c.changed_on.isoformat(),
                c.building_id,
                c.address,
                c.district,
                blank(c.company),
                blank(c.previous.value if c.previous else None),
                c.grade.value,
            ]
            for c in changes
        ),
    )
