"""Alembic environment: runs on the connection given by `tso_bot.store.migrate`."""

from __future__ import annotations

from alembic import context

from tso_bot.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via tso_bot.store.migrate
    raise RuntimeError("run migrations with `tso-bot db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
