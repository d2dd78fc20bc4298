"""The device simulator's profiles and faults, without a broker: what ingestion and alerts will see."""

import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from sensors.ingest.payloads import Channel, Rejected, parse_payload, parse_topic
from sensors.meters.alerts import night_flow, night_of
from sensors.models import MeterKind, SensorKind
from sensors.simulator.devices import Device
from sensors.simulator.messages import GARBAGE_KINDS, Fault, parse_faults
from sensors.simulator.profiles import STEP, TIMEZONE, expected_step_use
from sensors.simulator.publisher import TokenBucket
from sensors.simulator.rounds import Simulator
from sensors.usage.points import flag_backwards

PREFIX = "housing"
START = datetime(2026, 11, 1, tzinfo=TIMEZONE)  # heating season
LIMITS = {"max_bytes": 65536, "future_tolerance": timedelta(minutes=5)}
REJECTED_AS = {
    "not_json": "not_json",
    "bad_shape": "bad_shape",
    "nan": "bad_value",
    "negative": "bad_value",
    "future": "future",
    "wrong_serial": "wrong_serial",
    "oversized": "too_large",
}


def household(n: int = 1) -> list[Device]:
    """n apartments with all four meters and a building heat meter and hot-water sensor."""
    devices = []
    for a in range(1, n + 1):
        for kind in ("cold_water", "hot_water", "electricity", "gas"):
            devices.append(
                Device(
                    f"{kind[:2].upper()}-{a:04d}",
                    kind,
                    True,
                    residents=3,
                    area_m2=60,
                    apartment_id=a,
                    value=1000,
                )
            )
    devices.append(Device("HT-0001", "heat", True, area_m2=4000, building_id=1, value=5000))
    devices.append(Device("HWT-0001", "hot_water_temperature", False, building_id=1))
    devices.append(Device("IT-0001", "indoor_temperature", False, apartment_id=1))
    return devices


def run_rounds(simulator: Simulator, rounds: int) -> list:
    messages = []
    for _, (_, batch) in zip(range(rounds), simulator.rounds(), strict=False):
        messages.extend(batch)
    return messages


def parsed(message, now: datetime = START + timedelta(days=400)):
    channel, serial = parse_topic(message.topic, PREFIX)
    return serial, parse_payload(message.payload, serial=serial, channel=channel, now=now, **LIMITS)


def register_series(messages) -> dict[str, list[tuple[datetime, Decimal]]]:
    series = defaultdict(list)
    for message in messages:
        if message.kind == "garbage" or "/meters/" not in message.topic:
            continue
        serial, values = parsed(message)
        series[serial].extend((v.taken_at, v.value) for v in values)
    return series


def test_water_at_night_is_a_small_fraction_of_the_day():
    for kind in (MeterKind.cold_water, MeterKind.hot_water):
        night = sum(
            expected_step_use(
                kind, datetime.combine(START.date(), time(h), TIMEZONE), residents=3, area_m2=60
            )
            for h in range(1, 5)
        )
        morning = sum(
            expected_step_use(
                kind, datetime.combine(START.date(), time(h), TIMEZONE), residents=3, area_m2=60
            )
            for h in range(6, 10)
        )
        assert night < morning / 20


def test_simulated_apartment_uses_water_in_the_day_and_has_quiet_nights():
    simulator = Simulator(household(), prefix=PREFIX, start=START)
    series = register_series(run_rounds(simulator, 14 * 96))["CO-0001"]
    by_hour = defaultdict(Decimal)
    for (_, earlier), (at, later) in itertools.pairwise(series):
        by_hour[(at - STEP).astimezone(TIMEZONE).hour] += later - earlier
    night = sum(by_hour[h] for h in range(1, 5))
    evening = sum(by_hour[h] for h in range(18, 22))
    assert night * 10 < evening

    points = flag_backwards((at, value, "mqtt", None) for at, value in series)
    nights = [
        night_flow(points, night_of(START.date() + timedelta(days=d), "Asia/Tashkent")) for d in range(1, 13)
    ]
    assert all(result.leak is False for result in nights)  # an hour without flow every night


def test_a_leaking_apartment_never_stops_flowing_at_night():
    devices = household(2)
    simulator = Simulator(devices, prefix=PREFIX, start=START, faults=[Fault.leak])
    leaking = simulator.targets["leak"]
    assert leaking in ("CO-0001", "CO-0002")
    assert [d.serial for d in devices if d.leak] == [leaking]
    series = register_series(run_rounds(simulator, 7 * 96))

    for serial, readings in series.items():
        if not serial.startswith("CO-"):
            continue
        points = flag_backwards((at, value, "mqtt", None) for at, value in readings)
        verdicts = {
            night_flow(points, night_of(START.date() + timedelta(days=d), "Asia/Tashkent")).leak
            for d in range(1, 6)
        }
        assert verdicts == ({True} if serial == leaking else {False})
        if serial == leaking:  # every quarter hour of the night shows consumption
            night_steps = [
                later - earlier
                for (_, earlier), (at, later) in itertools.pairwise(readings)
                if 1 <= (at - STEP).astimezone(TIMEZONE).hour < 5
            ]
            assert night_steps and min(night_steps) > 0


@pytest.mark.parametrize("faults", [(), (Fault.duplicates, Fault.out_of_order, Fault.garbage)])
def test_registers_never_go_backwards(faults):
    simulator = Simulator(household(3), prefix=PREFIX, start=START, faults=faults)
    messages = run_rounds(simulator, 3 * 96)
    series = register_series(messages)
    assert len(series) == 13
    for readings in series.values():
        in_time = sorted(set(readings))
        values = [value for _, value in in_time]
        assert values == sorted(values)
        if not faults:  # in order, one reading every quarter hour, and nothing else
            assert readings == in_time
            assert all(b[0] - a[0] == STEP for a, b in itertools.pairwise(readings))


def test_out_of_order_and_duplicates_really_happen():
    simulator = Simulator(household(20), prefix=PREFIX, start=START, faults=["duplicates", "out-of-order"])
    messages = run_rounds(simulator, 96)
    kinds = {m.kind for m in messages}
    assert {"duplicate", "batch"} <= kinds
    series = register_series(messages)
    assert any(readings != sorted(readings) for readings in series.values())
    batch = next(m for m in messages if m.kind == "batch")
    assert "readings" in json.loads(batch.payload)


def test_garbage_fault_produces_each_kind_of_bad_payload():
    simulator = Simulator(household(2), prefix=PREFIX, start=START, faults=[Fault.garbage])
    messages = run_rounds(simulator, 40)
    garbage = [m for m in messages if m.kind == "garbage"]
    assert {m.label for m in garbage} == set(GARBAGE_KINDS)
    assert len(garbage) * 40 < len(messages)  # about one in 50
    now = START + timedelta(days=30)  # after every good timestamp, long before 2099
    for message in garbage:
        channel, serial = parse_topic(message.topic, PREFIX)
        assert channel is Channel.meters
        with pytest.raises(Rejected) as rejected:
            parse_payload(message.payload, serial=serial, channel=channel, now=now, **LIMITS)
        assert rejected.value.kind == REJECTED_AS[message.label], message.label
    for message in messages:
        if message.kind != "garbage":
            parsed(message, now)  # every other message is accepted


def test_temperature_faults_hit_one_sensor_each():
    devices = [
        *household(2),
        Device("HWT-0002", "hot_water_temperature", False, building_id=2),
        Device("IT-0002", "indoor_temperature", False, apartment_id=2),
    ]
    simulator = Simulator(devices, prefix=PREFIX, start=START, faults=["lukewarm", "cold_flat"])
    temperatures = defaultdict(list)
    for message in run_rounds(simulator, 96):
        if "/sensors/" in message.topic:
            serial, values = parsed(message)
            temperatures[serial].extend(float(v.value) for v in values)
    mean = {serial: sum(values) / len(values) for serial, values in temperatures.items()}
    lukewarm, cold = simulator.targets["lukewarm"], simulator.targets["cold_flat"]
    for serial, value in mean.items():
        kind = next(d.kind for d in devices if d.serial == serial)
        if kind == SensorKind.hot_water_temperature:
            assert (44 < value < 46) if serial == lukewarm else (60 < value < 64), serial
        else:
            assert (14 < value < 16) if serial == cold else (20 < value < 22.5), serial


def test_run_publishes_count_messages_and_never_a_future_timestamp():
    class Recorder:
        acknowledged = refused = dropped = backoffs = 0

        def __init__(self):
            self.sent = []

        def publish(self, topic, payload, stop=None):
            self.sent.append(payload)
            self.acknowledged += 1
            return True

        def wait_acknowledged(self, timeout):
            return True

    devices = household()
    recorder = Recorder()
    summary = Simulator(devices, prefix=PREFIX, start=START).run(recorder, rate=1e6, count=20)
    assert summary.published == len(recorder.sent) == 20 and summary.unacknowledged == 0

    now = datetime(2026, 11, 5, 10, 7, tzinfo=UTC)
    recorder = Recorder()
    simulator = Simulator(devices, prefix=PREFIX, start=now - timedelta(minutes=30))
    summary = simulator.run(recorder, rate=1e6, seconds=0.3, now=lambda: now)
    assert summary.rounds == 3  # 09:30, 09:45 and 10:00 UTC; 10:15 is still in the future
    stamps = {datetime.fromisoformat(json.loads(p)["ts"]) for p in recorder.sent}
    assert max(stamps) <= now and len(recorder.sent) == 3 * len(devices)


def test_token_bucket_paces_to_the_rate():
    clock = [0.0]
    bucket = TokenBucket(100, burst=5, clock=lambda: clock[0])
    waits = [bucket.take() for _ in range(5)]
    assert waits == [0.0] * 5  # the burst
    wait = bucket.take()
    assert wait == pytest.approx(0.01)
    clock[0] += 1.0
    assert bucket.take() == 0.0


def test_fault_names_as_typed():
    assert parse_faults(["out-of-order", "COLD-FLAT", Fault.leak]) == {
        Fault.out_of_order,
        Fault.cold_flat,
        Fault.leak,
    }
    with pytest.raises(ValueError, match="unknown fault"):
        parse_faults(["flood"])


def test_heat_is_only_used_in_the_heating_season():
    summer = datetime(2026, 7, 1, 12, tzinfo=TIMEZONE)
    winter = datetime(2026, 1, 15, 12, tzinfo=TIMEZONE)
    assert expected_step_use("heat", summer, residents=0, area_m2=4000) == 0
    assert expected_step_use("heat", winter, residents=0, area_m2=4000) > 0
    assert expected_step_use("gas", winter, residents=3, area_m2=60) > expected_step_use(
        "gas", summer, residents=3, area_m2=60
    )
