"""A resident's home as the portal shows it: an issued invoice with explained lines, and a meter read by hand."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from billing.models import Invoice, QuantitySource
from housing.registry.models import Apartment
from sensors.models import Meter, MeterKind
from tests.factories.billing import make_billed_invoice, make_invoice_line, make_service
from tests.factories.readings import add_readings, make_meter

TOTAL = 51_000_000  # 510,000.00 UZS: 270,000 of electricity, 240,000 of management
CITY = ZoneInfo("Asia/Tashkent")


@dataclass
class Home:
    invoice: Invoice
    meter: Meter  # cold water, read by hand; 1.5 m3 more each month
    latest_value: Decimal


def make_home(session: Session, apartment: Apartment, *, now: datetime | None = None) -> Home:
    electricity = make_service(session, code="electricity", name="Electricity", unit="kWh")
    management = make_service(session, code="management", name="Management fee", unit="m2")
    invoice = make_billed_invoice(session, apartment, TOTAL)
    make_invoice_line(
        session,
        invoice,
        electricity,
        quantity=Decimal("400.000"),
        amount_minor=28_000_000,
        deduction_minor=1_000_000,
        deduction_reason="no power for 10 hours on 3 October",
        explanation={
            "source": "metered",
            "start": {"at": "2026-10-01T00:00:00+05:00", "value": "1000.000", "how": "read"},
            "end": {"at": "2026-11-01T00:00:00+05:00", "value": "1400.000", "how": "interpolated"},
            "extrapolated": False,
            "pricing": [
                {"tier": 1, "up_to": "200", "units": "200", "price_minor": "60000", "subtotal": "12000000"},
                {"tier": 2, "up_to": "500", "units": "200", "price_minor": "80000", "subtotal": "16000000"},
            ],
        },
    )
    make_invoice_line(
        session,
        invoice,
        management,
        quantity=Decimal("131.650"),
        quantity_source=QuantitySource.area,
        amount_minor=24_000_000,
        explanation={"source": "area"},
    )
    meter = make_meter(session, apartment=apartment, kind=MeterKind.cold_water, smart=False)
    now = now or datetime.now(UTC)
    start = (now.astimezone(CITY) - timedelta(days=400)).replace(day=1, hour=12)
    rows, value, at = [], Decimal("100.000"), start
    while at < now - timedelta(days=2):
        rows.append((at.astimezone(UTC), value))
        value += Decimal("1.500")
        at = (at + timedelta(days=32)).replace(day=1)
    add_readings(session, meter, rows)
    return Home(invoice=invoice, meter=meter, latest_value=value - Decimal("1.500"))
