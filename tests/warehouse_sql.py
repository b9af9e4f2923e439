"""Run one SQL query against a test warehouse URL and return all rows."""
from __future__ import annotations

import sqlalchemy as sa

from warehouse.resource import Warehouse


def q(url: str, sql: str):
    engine = Warehouse(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()
    finally:
        engine.close()
