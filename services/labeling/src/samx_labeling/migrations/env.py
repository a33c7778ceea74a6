"""Alembic environment. The URL comes from the caller's config (``db.engine.alembic_config``) or, for a
plain ``alembic upgrade head`` in services/labeling, from ``SAMX_LABELING_DATABASE_URL``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from samx_labeling.db.models import Base
from samx_labeling.settings import get_labeling_settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_labeling_settings().database_url
config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        # batch mode: SQLite cannot ALTER most things in place; Alembic copies the table instead.
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
