"""The order contract and status rules are pure: no Flask, SQLAlchemy or HTTP client inside."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("flask", "sqlalchemy", "requests", "werkzeug", "alembic")


@pytest.mark.parametrize("module", ["cpq.orders.contract", "cpq.orders.status"])
def test_order_rules_load_without_web_database_or_network_libraries(module):
    code = (f"import sys, {module}; "
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}); print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
