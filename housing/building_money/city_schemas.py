"""Read models of the city's building-money API: the cost comparison and the late reports."""

from datetime import date

from pydantic import BaseModel, Field

from housing.building_money.comparison import Group
from housing.building_money.deadlines import DueReport
from housing.building_money.export import uzs_per_m2


class CostGroupRead(BaseModel):
    id: int
    name: str
    buildings: int = Field(description="n: buildings with a figure")
    median_uzs_per_m2: float
    spent_uzs: float
    outlier_buildings_high: list[int] = Field(description="Building ids far above every building selected")
    outlier_buildings_low: list[int]
    median_z: float | None = Field(description="The median's modified z-score among the groups' medians")
    median_outlier: str | None = Field(description="high or low when |median_z| > 3.5")

    @classmethod
    def of(cls, group: Group, name: str) -> "CostGroupRead":
        return cls(
            id=group.key,
            name=name,
            buildings=group.n,
            median_uzs_per_m2=uzs_per_m2(group.median_per_m2) or 0.0,
            spent_uzs=round(group.total_minor / 100, 2),
            outlier_buildings_high=group.outliers_high,
            outlier_buildings_low=group.outliers_low,
            median_z=None if group.z is None else round(group.z, 3),
            median_outlier=group.outlier.value if group.outlier else None,
        )


class CostCompanies(BaseModel):
    items: list[CostGroupRead]
    total: int
    limit: int
    offset: int


class BuildingCostsRead(BaseModel):
    quarter: str
    category: str | None = Field(description="None: every category together")
    district_id: int | None
    buildings: int = Field(description="Buildings compared")
    excluded_zero_area: int
    median_uzs_per_m2: float | None = Field(description="Over every building compared")
    mad_uzs_per_m2: float | None = Field(description="Median absolute deviation from that median")
    outlier_threshold: float = Field(description="|modified z-score| above this is an outlier")
    companies: CostCompanies
    districts: list[CostGroupRead]


class LateReportRead(BaseModel):
    building_id: int
    address: str
    district_id: int
    company_id: int
    company_name: str
    quarter: str
    due_on: date
    state: str
    days_late: int

    @classmethod
    def of(cls, row: DueReport) -> "LateReportRead":
        return cls(
            building_id=row.building_id,
            address=row.address,
            district_id=row.district_id,
            company_id=row.company_id,
            company_name=row.company_name,
            quarter=str(row.quarter),
            due_on=row.due_on,
            state=row.state.value,
            days_late=row.days_late,
        )


class LateReports(BaseModel):
    items: list[LateReportRead]
    total: int
    limit: int
    offset: int
