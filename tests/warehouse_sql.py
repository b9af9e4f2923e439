"""Run one SQL query against a test warehouse URL and return all rows."""
from __future__ import annotations

import sqlalchemy as sa

from warehouse.engine import make_engine


def q(url: str, sql: str):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()
    finally:
        engine.dispose()
