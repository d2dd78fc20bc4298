"""Partition leases on PostgreSQL: advisory locks held by one dedicated connection per process."""

import pytest

from housing.db import make_engine
from sensors.ingest.leases import LeaseError, PostgresLeases, make_leases
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.integration.mqtt_helpers import wait_until
from tests.integration.tcp_proxy import proxied

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (HOUSING_TEST_DATABASE_URL)")


def test_one_holder_per_slot_and_per_name_and_members_listed(db):
    a = make_leases(db, session_prefix="pg-test", name="a")
    b = make_leases(db, session_prefix="pg-test", name="b")
    assert isinstance(a, PostgresLeases)
    a.join()
    b.join()
    try:
        assert a.members() == b.members() and len(a.members()) == 2
        assert a.me() in a.members() and b.me() in a.members()
        with pytest.raises(LeaseError, match="named 'a'"):
            make_leases(db, session_prefix="pg-test", name="a").join()
        assert a.try_claim(5) and not b.try_claim(5)
        a.release(5)
        assert b.try_claim(5)
        other = make_leases(db, session_prefix="pg-other", name="a")
        other.join()  # another installation on the same database: its own keys
        assert other.try_claim(5) and other.members() == [other.me()]
        other.close()
        b.close()  # a process that stops frees its slots and leaves the members at once
        assert a.members() == [a.me()]
        assert a.try_claim(5)
        assert a.alive()
    finally:
        a.close()
        b.close()


def test_a_lost_connection_loses_every_lease_and_is_noticed(db, database_url):
    proxy, through = proxied(database_url)
    engine = make_engine(make_settings(through))
    cut_off = make_leases(engine, session_prefix="pg-test", name="cut")
    watcher = make_leases(db, session_prefix="pg-test", name="watcher")
    try:
        cut_off.join()
        watcher.join()
        assert cut_off.try_claim(0)
        assert not watcher.try_claim(0)
        proxy.cut()
        assert not cut_off.alive()
        # The server ends the session once it sees the socket closed.
        wait_until(lambda: watcher.try_claim(0), 10, "the cut-off process's lease to be freed")
        assert len(watcher.members()) == 1
    finally:
        cut_off.close()
        watcher.close()
        proxy.close()
        engine.dispose()
