"""Every table of the housing domain, imported in one place for Alembic and the tests.

Later packages register theirs through housing.migrations.env, which imports them too.
"""

from housing.accounts.models import ApiToken, User
from housing.announcements.models import Announcement, AnnouncementRead, AnnouncementTarget, AnnouncementText
from housing.building_money.models import (
    BuildingExpense,
    BuildingReport,
    BuildingReportLine,
    ExpenseDocument,
    ExpenseRequest,
    SharedExpense,
)
from housing.catchup.models import JobProgress
from housing.incidents.models import ServiceIncident
from housing.meetings.models import (
    Ballot,
    BallotAnswer,
    BuildingDecision,
    Meeting,
    MeetingDocument,
    MeetingEvent,
    MeetingProxy,
    MeetingQuestion,
    MeetingSignature,
    MeetingText,
    MeetingVoter,
    QuestionText,
)
from housing.notifications.models import (
    ChannelChoice,
    ContactSettings,
    Delivery,
    Notification,
    TelegramLinkCode,
)
from housing.registry.models import (
    Apartment,
    Building,
    BuildingManagement,
    District,
    ManagementCompany,
    Ownership,
    Person,
    Residence,
)
from housing.requests.models import (
    RequestCategory,
    RequestComment,
    RequestPhoto,
    RequestTransition,
    ServiceRequest,
)
from housing.scores.models import QualityScore, QualityScoreComponent

__all__ = [
    "Announcement",
    "AnnouncementRead",
    "AnnouncementTarget",
    "AnnouncementText",
    "Apartment",
    "ApiToken",
    "Ballot",
    "BallotAnswer",
    "Building",
    "BuildingDecision",
    "BuildingExpense",
    "BuildingManagement",
    "BuildingReport",
    "BuildingReportLine",
    "ChannelChoice",
    "ContactSettings",
    "Delivery",
    "District",
    "ExpenseDocument",
    "ExpenseRequest",
    "JobProgress",
    "ManagementCompany",
    "Meeting",
    "MeetingDocument",
    "MeetingEvent",
    "MeetingProxy",
    "MeetingQuestion",
    "MeetingSignature",
    "MeetingText",
    "MeetingVoter",
    "Notification",
    "Ownership",
    "Person",
    "QualityScore",
    "QualityScoreComponent",
    "QuestionText",
    "RequestCategory",
    "RequestComment",
    "RequestPhoto",
    "RequestTransition",
    "Residence",
    "ServiceIncident",
    "ServiceRequest",
    "SharedExpense",
    "TelegramLinkCode",
    "User",
]
