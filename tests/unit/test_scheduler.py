from datetime import timedelta

from housing.accounts.models import Role, TokenKind
from housing.accounts.service import issue_token
from housing.scheduler import JOBS, run_job
from tests.factories.core import make_user


def test_job_table_names_are_unique_and_documented():
    names = [job.name for job in JOBS]
    assert len(names) == len(set(names))
    assert all(job.doc for job in JOBS)


def test_purge_tokens_removes_only_long_expired_tokens(session, settings, db):
    user = make_user(session, Role.admin)
    issue_token(session, user, kind=TokenKind.api, lifetime=timedelta(days=-40))
    issue_token(session, user, kind=TokenKind.api, lifetime=timedelta(days=1))
    session.commit()
    assert run_job(settings, "purge-tokens", engine=db) == "removed 1 expired or revoked tokens"
    assert run_job(settings, "purge-tokens", engine=db) == "removed 0 expired or revoked tokens"


def test_heartbeat_job_touches_the_file(settings, db, tmp_path):
    settings.scheduler.heartbeat_file = tmp_path / "beat"
    run_job(settings, "heartbeat", engine=db)
    assert settings.scheduler.heartbeat_file.exists()
