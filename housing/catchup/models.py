"""How far each calendar job has got: the day or month it last finished, kept in the database."""

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime, utcnow


class JobProgress(SQLModel, table=True):
    """One row per calendar job (`monthly-billing`, `daily-penalties`, ...).

    `done_through` is the last day (or the first day of the last month) the job finished,
    written in the same transaction as that day's or month's work, so a job catches up from
    here whatever the scheduler did meanwhile: down, redeployed, restarted.
    """

    __tablename__ = "job_progress"

    job: str = Field(primary_key=True, max_length=50)
    done_through: date
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
