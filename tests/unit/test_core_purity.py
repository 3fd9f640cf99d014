"""The functional core (catalog, ruleset, configurator, pricing) imports no Flask or SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ["cpq.catalog", "cpq.accounts", "cpq.errors", "cpq.ruleset.loader", "cpq.ruleset.model", "cpq.pricing.books",
        "cpq.configurator", "cpq.configurator.service", "cpq.importers.clib", "cpq.importers.xcsp",
        "cpq.importers.dimacs"]
CORE_DIRS = ["cpq/ruleset", "cpq/pricing", "cpq/configurator"]
FORBIDDEN = ("flask", "sqlalchemy", "weasyprint", "alembic", "werkzeug")


@pytest.mark.parametrize("module", CORE)
def test_core_module_loads_without_web_or_database_libraries(module):
    code = (f"import sys, {module}; "
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}); print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_core_source_file_imports_web_or_database_libraries():
    offenders = []
    for folder in CORE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                words = line.strip().split()
                if len(words) >= 2 and words[0] in ("import", "from") and words[1].split(".")[0] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
