"""Fair shares of the partition sessions, and the leases that decide who serves which."""

import subprocess
import sys

import pytest
from sqlalchemy import create_engine

from sensors.ingest.leases import FileLeases, LeaseError, PostgresLeases, make_leases
from sensors.ingest.worker import SLOTS, fair_share, slot_topics


@pytest.mark.parametrize("processes", [1, 2, 3, 4, 5, 16, 17, 18, 40])
def test_fair_shares_add_up_to_every_slot_and_differ_by_at_most_one(processes):
    members = [f"ingest-{n:02d}" for n in range(processes)]
    shares = [fair_share(len(SLOTS), members, me) for me in members]
    assert sum(shares) == len(SLOTS) == 17
    assert max(shares) - min(shares) <= 1
    if processes > 17:
        assert shares.count(0) == processes - 17  # hot spares


def test_a_member_not_yet_listed_asks_for_the_smallest_share():
    assert fair_share(17, ["a", "b"], "c") == 17 // 2


def test_slots_are_the_16_partitions_and_v1_with_plain_topics():
    assert SLOTS[0] == "p00" and SLOTS[15] == "p15" and SLOTS[16] == "v1" and len(set(SLOTS)) == 17
    assert slot_topics("housing", "p07") == [
        "housing/v2/07/meters/+/readings",
        "housing/v2/07/sensors/+/measurements",
    ]
    assert slot_topics("housing", "v1") == [
        "housing/v1/meters/+/readings",
        "housing/v1/sensors/+/measurements",
    ]
    assert not any(t.startswith("$share") for slot in SLOTS for t in slot_topics("housing", slot))


def test_file_leases_one_holder_per_slot_and_per_name(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    a = make_leases(engine, session_prefix="s", name="a")
    b = make_leases(engine, session_prefix="s", name="b")
    assert isinstance(a, FileLeases)
    a.join()
    b.join()
    assert a.members() == b.members() == ["a", "b"]
    same_name = make_leases(engine, session_prefix="s", name="a")
    with pytest.raises(LeaseError, match="named 'a'"):
        same_name.join()
    assert a.try_claim(3) and a.try_claim(3)  # twice is still one lease
    assert not b.try_claim(3)
    a.release(3)
    assert b.try_claim(3)
    other_installation = make_leases(engine, session_prefix="t", name="a")
    other_installation.join()  # another session prefix: its own members and slots
    assert other_installation.try_claim(4) and a.try_claim(4)
    b.close()
    assert a.members() == ["a"]  # a member that stopped is gone at once
    assert a.try_claim(3)
    for leases in (a, other_installation):
        leases.close()


def test_file_leases_of_a_killed_process_are_free_at_once(tmp_path):
    database = tmp_path / "x.db"
    script = (
        "import sys, time; from sqlalchemy import create_engine; from sensors.ingest.leases import make_leases; "
        f"l = make_leases(create_engine('sqlite:///{database}'), session_prefix='s', name='child'); "
        "l.join(); l.try_claim(0); print('held', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        mine = make_leases(create_engine(f"sqlite:///{database}"), session_prefix="s", name="me")
        mine.join()
        assert mine.members() == ["child", "me"]
        assert not mine.try_claim(0)
        child.kill()
        child.wait(10)
        assert mine.members() == ["me"]
        assert mine.try_claim(0)
        mine.close()
    finally:
        child.kill()


def test_postgres_leases_key_members_and_slots_per_installation():
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    a = make_leases(engine, session_prefix="housing-ingest", name="ingest-1")
    b = make_leases(engine, session_prefix="other", name="ingest-1")
    assert isinstance(a, PostgresLeases)
    assert a.member_class != a.slot_class
    assert (a.member_class, a.slot_class) != (b.member_class, b.slot_class)
    assert all(0 <= key < 2**31 for key in (a.member_class, a.slot_class, a.member_key))
    assert not a.alive()  # not joined yet
