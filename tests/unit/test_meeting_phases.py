"""A meeting's phase from its status and the clock: notice until voting starts, voting in
[voting_starts, voting_ends), then counting until it is closed."""

from datetime import timedelta

import pytest

from housing.meetings.models import Meeting, MeetingStatus
from housing.meetings.phases import Phase, editable, phase
from tests.factories.meetings import DRAFTED, ENDS, STARTS

SECOND = timedelta(seconds=1)


def meeting(status: MeetingStatus) -> Meeting:
    return Meeting(
        building_id=1,
        initiator="company",
        created_by=1,
        status=status,
        voting_starts=STARTS,
        voting_ends=ENDS,
    )


@pytest.mark.parametrize(
    "moment, expected",
    [
        (DRAFTED, Phase.notice),
        (STARTS - SECOND, Phase.notice),
        (STARTS, Phase.voting),
        (ENDS - SECOND, Phase.voting),
        (ENDS, Phase.counting),
        (ENDS + timedelta(days=30), Phase.counting),
    ],
)
def test_a_published_meeting_moves_with_the_clock(moment, expected):
    assert phase(meeting(MeetingStatus.published), moment) is expected


@pytest.mark.parametrize(
    "status, expected, can_edit",
    [
        (MeetingStatus.draft, Phase.draft, True),
        (MeetingStatus.initiative, Phase.initiative, True),
        (MeetingStatus.closed, Phase.closed, False),
        (MeetingStatus.cancelled, Phase.cancelled, False),
        (MeetingStatus.published, Phase.voting, False),
    ],
)
def test_the_other_statuses_keep_their_phase_whatever_the_time(status, expected, can_edit):
    assert phase(meeting(status), STARTS) is expected
    assert editable(meeting(status)) is can_edit
