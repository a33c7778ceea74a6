"""Bringing a database to a usable state: migrations, then the vocabulary seed (both idempotent)."""

from __future__ import annotations

from samx_labeling.db.engine import make_engine, make_sessionmaker, migrate
from samx_labeling.domain.vocabulary import seed_vocabulary


def prepare_database(url: str) -> None:
    migrate(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            seed_vocabulary(session)
    finally:
        engine.dispose()
