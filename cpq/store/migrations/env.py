"""Alembic environment: runs migrations on the URL given by cpq.store.alembic_config."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from cpq.store.tables import metadata

config = context.config
connectable = engine_from_config(config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
