"""The device contract: what a message may look like, and the reason it is refused otherwise."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sensors.ingest.payloads import (
    PARTITIONS,
    Channel,
    Rejected,
    check_device,
    device_topic,
    parse_payload,
    parse_topic,
    partition_of,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def parse(payload: bytes, channel: Channel = Channel.meters, serial: str = "CW-1"):
    return parse_payload(
        payload,
        serial=serial,
        channel=channel,
        now=NOW,
        max_bytes=1024,
        future_tolerance=timedelta(minutes=5),
    )


def test_a_single_reading_in_local_time_is_stored_in_utc():
    [value] = parse(b'{"ts": "2026-11-01T00:15:00+05:00", "value": 1234.567, "seq": 42}')
    assert value.taken_at == datetime(2026, 10, 31, 19, 15, tzinfo=UTC)
    assert value.value == Decimal("1234.567")
    assert value.seq == 42


def test_a_buffered_batch_keeps_every_reading_exactly():
    values = parse(
        b'{"readings": [{"ts": "2026-11-01T10:00:00Z", "value": 10}, {"ts": "2026-11-01T10:15:00Z", "value": 10.0004}]}'
    )
    assert [v.value for v in values] == [Decimal("10.000"), Decimal("10.000")]
    assert [v.seq for v in values] == [None, None]


def test_temperatures_may_be_below_zero_but_not_absurd():
    [value] = parse(b'{"ts": "2026-11-01T10:00:00Z", "value": -3.456}', Channel.sensors)
    assert value.value == Decimal("-3.46")
    with pytest.raises(Rejected, match="outside"):
        parse(b'{"ts": "2026-11-01T10:00:00Z", "value": 900}', Channel.sensors)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"not json", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1, 2]", "bad_shape"),
        (b'{"value": 1}', "bad_shape"),
        (b'{"readings": []}', "bad_shape"),
        (b'{"readings": "many"}', "bad_shape"),
        (b'{"ts": "2026-11-01T10:00:00Z", "value": NaN}', "bad_value"),
        (b'{"ts": "2026-11-01T10:00:00Z", "value": Infinity}', "bad_value"),
        (b'{"ts": "2026-11-01T10:00:00Z", "value": -0.5}', "bad_value"),
        (b'{"ts": "2026-11-01T10:00:00Z", "value": "12"}', "bad_value"),
        (b'{"ts": "2026-11-01T10:00:00Z", "value": true}', "bad_value"),
        (b'{"ts": "2026-11-01T10:00:00Z", "value": 1e30}', "bad_value"),
        (b'{"ts": "2026-11-01T10:00:00", "value": 1}', "bad_timestamp"),
        (b'{"ts": "yesterday", "value": 1}', "bad_timestamp"),
        (b'{"ts": 1730000000, "value": 1}', "bad_timestamp"),
        (b'{"ts": "2026-11-01T12:06:00Z", "value": 1}', "future"),
        (b'{"ts": "2026-11-01T10:00:00Z", "value": 1, "seq": -1}', "bad_shape"),
        (b'{"ts": "2026-11-01T10:00:00Z", "value": 1, "serial": "CW-2"}', "wrong_serial"),
        (b'{"ts": "2026-11-01T10:00:00Z", "value": 1, "pad": "' + b"x" * 1100 + b'"}', "too_large"),
    ],
)
def test_bad_payloads_are_refused_with_a_kind_and_a_reason(payload, kind):
    with pytest.raises(Rejected) as caught:
        parse(payload)
    assert caught.value.kind == kind
    assert str(caught.value).startswith(f"{kind}: ")


def test_a_batch_with_one_bad_reading_is_refused_whole():
    with pytest.raises(Rejected, match="no time zone"):
        parse(
            b'{"readings": [{"ts": "2026-11-01T10:00:00Z", "value": 1}, {"ts": "2026-11-01T10:15:00", "value": 2}]}'
        )


def test_five_minutes_of_clock_drift_is_tolerated():
    assert parse(b'{"ts": "2026-11-01T12:04:59Z", "value": 1}')


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("housing/v1/meters/CW-000001/readings", (Channel.meters, "CW-000001")),
        ("housing/v1/sensors/HWT-1/measurements", (Channel.sensors, "HWT-1")),
        ("housing/v2/12/meters/CW-000001/readings", (Channel.meters, "CW-000001")),
        ("housing/v2/07/sensors/HWT-1/measurements", (Channel.sensors, "HWT-1")),
        # Another partition than the serial's own still names the serial: partitions only spread load.
        ("housing/v2/00/meters/CW-000001/readings", (Channel.meters, "CW-000001")),
        ("housing/v2/15/meters/CW-000001/readings", (Channel.meters, "CW-000001")),
    ],
)
def test_topics_name_the_channel_and_serial(topic, expected):
    assert parse_topic(topic, "housing") == expected


@pytest.mark.parametrize(
    ("serial", "partition"), [("CW-000001", "12"), ("HWT-1", "07"), ("SN000123", "02"), ("Ž-1", "14")]
)
def test_the_partition_is_crc32_of_the_utf8_serial_mod_16_in_two_digits(serial, partition):
    assert partition_of(serial) == partition
    assert device_topic("housing", "meters", serial) == f"housing/v2/{partition}/meters/{serial}/readings"
    assert device_topic("housing", "sensors", serial, "v1") == f"housing/v1/sensors/{serial}/measurements"
    assert parse_topic(device_topic("housing", "meters", serial), "housing") == (Channel.meters, serial)


def test_every_partition_is_used_and_none_beyond():
    seen = {partition_of(f"CW-{n:06d}") for n in range(2000)}
    assert seen == {f"{n:02d}" for n in range(PARTITIONS)}
    with pytest.raises(ValueError):
        device_topic("housing", "meters", "CW-1", "v3")


@pytest.mark.parametrize(
    "topic",
    [
        "housing/v2/meters/CW-1/readings",
        "housing/v1/meters/CW-1/measurements",
        "housing/v1/valves/CW-1/readings",
        "housing/v1/meters/CW-1/readings/extra",
        "housing/v1/meters//readings",
        "housing/v2/16/meters/CW-1/readings",
        "housing/v2/1/meters/CW-1/readings",
        "housing/v2/007/meters/CW-1/readings",
        "housing/v2/\u0661\u0662/meters/CW-1/readings",
        "housing/v2/12/meters/CW-1",
        "housing/v2/12/meters/CW-1/readings/extra",
        "housing/v3/12/meters/CW-1/readings",
        "housing/v1",
        "other/v1/meters/CW-1/readings",
    ],
)
def test_other_topics_are_refused(topic):
    with pytest.raises(Rejected) as caught:
        parse_topic(topic, "housing")
    assert caught.value.kind == "bad_topic"


def test_a_well_formed_message_for_an_unknown_serial_is_refused():
    values = parse(b'{"ts": "2026-11-01T12:00:00+00:00", "value": 1}')
    problem = check_device(Channel.meters, "CW-1", values, registered=False, removed_on=None)
    assert problem is not None and problem.kind == "unknown_serial"
    assert "no meter CW-1" in str(problem)


def test_readings_from_the_removal_day_on_are_refused_earlier_ones_pass():
    values = parse(b'{"ts": "2026-10-31T12:00:00+00:00", "value": 1}')
    assert check_device(Channel.meters, "CW-1", values, registered=True, removed_on=NOW.date()) is None
    late = parse(b'{"ts": "2026-11-01T00:00:00+00:00", "value": 1}')
    problem = check_device(Channel.meters, "CW-1", late, registered=True, removed_on=NOW.date())
    assert problem is not None and problem.kind == "removed_device"
    assert check_device(Channel.sensors, "T-1", late, registered=True, removed_on=None) is None
