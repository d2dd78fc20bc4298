"""A message the database refuses is kept as rejected; the rest of its batch is stored."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlmodel import select

from sensors.ingest.payloads import Channel
from sensors.ingest.store import Message, ReadingStore
from sensors.models import Meter, Reading, RejectedMessage
from tests.integration.mqtt_helpers import make_meters, readings_payloads


def test_one_unstorable_message_does_not_block_its_batch(db, session):
    kept, vanishing = make_meters(session, 2)
    store = ReadingStore(db, prefix="housing", max_payload_bytes=4096, future_tolerance=timedelta(minutes=5))
    with db.connect() as connection:
        store.devices.resolve(connection, {(Channel.meters, kept), (Channel.meters, vanishing)})
    # The meter disappears after the worker cached it: its reading now breaks a foreign key.
    session.execute(delete(Meter).where(Meter.serial == vanishing))
    session.commit()
    now = datetime.now(UTC)
    messages = [
        Message(n, 1, f"housing/v1/meters/{serial}/readings", payload, now)
        for n, (serial, payload) in enumerate(readings_payloads([kept, vanishing], per_meter=3), start=1)
    ]

    result = store.write(messages)

    assert (result.received, result.stored, sum(result.rejected.values())) == (6, 3, 3)
    assert len(session.exec(select(Reading)).all()) == 3
    reasons = session.exec(select(RejectedMessage.reason)).all()
    assert len(reasons) == 3 and all(r.startswith("could not be stored") for r in reasons)
