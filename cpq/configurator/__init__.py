"""The configurator: product rules compiled into an incremental SAT model (python-sat).

`validate`, `valid_domains`, `explain`, `complete` and `configure` take a Ruleset and plain
values and return plain values; nothing here imports Flask or SQLAlchemy. How each kind of
rule is encoded is written down in docs/configurator.md.
"""

from cpq.configurator.complete import Completion
from cpq.configurator.domains import DomainResult, OptionDomain
from cpq.configurator.explain import Explanation, Repair
from cpq.configurator.model import CompiledProduct, compiled_product
from cpq.configurator.reasons import Reason
from cpq.configurator.rules import Configuration
from cpq.configurator.selection import Choice, Selection
from cpq.configurator.service import (
    ConfigureResult,
    complete,
    configure,
    explain,
    valid_domains,
    validate,
)
from cpq.configurator.validate import ValidationResult, Violation

__all__ = [
    "Choice", "CompiledProduct", "Completion", "Configuration", "ConfigureResult", "DomainResult",
    "Explanation", "OptionDomain", "Reason", "Repair", "Selection", "ValidationResult", "Violation",
    "compiled_product", "complete", "configure", "explain", "valid_domains", "validate",
]
