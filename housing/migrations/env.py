"""Alembic environment: the URL comes from settings (or the caller), the metadata from every package."""

from alembic import context
from sqlmodel import SQLModel

from housing.db import make_engine
from housing.migrations.tables import include_name  # also registers every table
from housing.settings import Settings

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    settings = Settings()
    url = config.get_main_option("sqlalchemy.url")
    if url:
        settings.db.url = url
    with make_engine(settings).connect() as connection:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


run_migrations()
