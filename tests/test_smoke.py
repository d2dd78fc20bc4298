from housing.accounts.models import Role
from tests.factories.core import login, make_user


def test_admin_logs_in_and_reads_self(client, session):
    make_user(session, Role.admin, username="boss")
    session.commit()
    headers = login(client, "boss")
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["role"] == "admin"
