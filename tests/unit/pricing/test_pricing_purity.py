"""The pricing core runs without the web stack or the database: importing it pulls in neither."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULES = ["cpq.pricing.engine", "cpq.pricing.lint", "cpq.pricing.report", "cpq.pricing.request"]


@pytest.mark.parametrize("module", MODULES)
def test_pricing_module_imports_no_flask_or_sqlalchemy(module):
    code = (f"import sys, {module}; "
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'werkzeug'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
