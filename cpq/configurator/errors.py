"""Configurator errors, in the service's one error vocabulary (`cpq.errors`)."""

from __future__ import annotations

from cpq.errors import CPQError, InvalidInput


class UnknownProductInput(InvalidInput):
    """The product named in a configure request does not exist (a request problem, 422)."""

    code = "unknown_product"
    title = "Unknown product"


class UnknownOption(InvalidInput):
    code = "unknown_option"
    title = "Unknown option"


class QuantityOutOfRange(InvalidInput):
    code = "quantity_out_of_range"
    title = "Quantity out of range"


class InvalidSelection(InvalidInput):
    """A selection that is malformed (not merely inconsistent with the rules)."""

    code = "invalid_selection"
    title = "Invalid selection"


class SelectionInconsistent(CPQError):
    """The choices contradict the rules, so there is no valid configuration to return (409)."""

    code = "selection_inconsistent"
    status = 409
    title = "The selection contradicts the product rules"


class ModelNotEncodable(CPQError):
    """A constraint uses a construct the solver encoding does not support (a rule-file problem)."""

    code = "model_not_encodable"
    status = 503
    title = "The product model cannot be compiled"
