"""What a buyer chose (Selection), one choice at a time (Choice), and their solver assumptions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cpq.catalog import frozen_map
from cpq.configurator.errors import InvalidSelection, QuantityOutOfRange, UnknownOption
from cpq.configurator.model import Assumptions, CompiledProduct, quantity_bounds
from cpq.ruleset.expressions import did_you_mean


@dataclass(frozen=True)
class Selection:
    """A (partial) selection: chosen options with a quantity (None: any allowed quantity),
    options the buyer ruled out, and bundle component quantities."""

    options: Mapping[str, int | None] = field(default_factory=frozen_map)
    excluded: tuple[str, ...] = ()
    components: Mapping[str, int] = field(default_factory=frozen_map)

    @classmethod
    def of(cls, *chosen: str, excluded=(), components=None, **_) -> Selection:
        """Shorthand for tests and callers: Selection.of('CPU-8C', 'SSD-960')."""
        return cls(frozen_map(dict.fromkeys(chosen)), tuple(excluded), frozen_map(components or {}))

    def with_options(self, more: Mapping[str, int | None]) -> Selection:
        merged = dict(self.options)
        merged.update(more)
        return Selection(frozen_map(merged), self.excluded, self.components)


@dataclass(frozen=True)
class Choice:
    """One decision of the buyer: an option (with a quantity or not), an exclusion, a component count."""

    kind: str  # "option" | "excluded" | "component"
    target: str
    quantity: int | None = None

    def as_dict(self) -> dict:
        if self.kind == "option":
            return {"option": self.target} | ({"quantity": self.quantity} if self.quantity is not None else {})
        if self.kind == "excluded":
            return {"excluded": self.target}
        return {"component": self.target, "quantity": self.quantity}

    def __str__(self) -> str:
        if self.kind == "option":
            return self.target if self.quantity is None else f"{self.target} × {self.quantity}"
        if self.kind == "excluded":
            return f"not {self.target}"
        return f"{self.target} × {self.quantity}"


def problem(code: str, field_name: str, message: str) -> dict:
    return {"code": code, "field": field_name, "message": message}


def choices_of(model: CompiledProduct, selection: Selection) -> list[Choice]:
    """The selection as choices, after checking every id and quantity (all problems in one error)."""
    problems: list[dict] = []
    out: list[Choice] = []
    pid = model.product.id
    for option_id, quantity in selection.options.items():
        if option_id not in model.sel:
            hint = did_you_mean(str(option_id), model.option_ids)
            problems.append(problem("unknown_option", f"options.{option_id}",
                                    f"'{option_id}' is not an option of {pid}" + (f" (did you mean {hint}?)" if hint else "")))
            continue
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
            problems.append(problem("invalid_selection", f"options.{option_id}", "quantity must be a whole number"))
            continue
        if quantity == 0:
            out.append(Choice("excluded", option_id))
            continue
        if quantity is not None:
            lo, hi = quantity_bounds(model.options[option_id])
            if not lo <= quantity <= hi:
                problems.append(problem("quantity_out_of_range", f"options.{option_id}",
                                        f"quantity of {option_id} must be between {lo} and {hi}, got {quantity}"))
                continue
            if lo == hi:
                quantity = None
        out.append(Choice("option", option_id, quantity))
    for option_id in selection.excluded:
        if option_id not in model.sel:
            hint = did_you_mean(str(option_id), model.option_ids)
            problems.append(problem("unknown_option", "excluded",
                                    f"'{option_id}' is not an option of {pid}" + (f" (did you mean {hint}?)" if hint else "")))
        elif option_id in selection.options and selection.options[option_id] != 0:
            problems.append(problem("invalid_selection", "excluded", f"'{option_id}' is both chosen and excluded"))
        elif not any(c.kind == "excluded" and c.target == option_id for c in out):
            out.append(Choice("excluded", option_id))
    components = {c.id: c for c in model.product.components}
    for comp_id, quantity in selection.components.items():
        comp = components.get(comp_id)
        if comp is None:
            hint = did_you_mean(str(comp_id), components)
            problems.append(problem("unknown_option", f"components.{comp_id}",
                                    f"'{comp_id}' is not a component of {pid}" + (f" (did you mean {hint}?)" if hint else "")))
        elif isinstance(quantity, bool) or not isinstance(quantity, int):
            problems.append(problem("invalid_selection", f"components.{comp_id}", "quantity must be a whole number"))
        elif not comp.min <= quantity <= comp.max:
            problems.append(problem("quantity_out_of_range", f"components.{comp_id}",
                                    f"quantity of component {comp_id} must be between {comp.min} and {comp.max}, got {quantity}"))
        else:
            out.append(Choice("component", comp_id, quantity))
    if problems:
        first = problems[0]["code"]
        cls = {"unknown_option": UnknownOption, "quantity_out_of_range": QuantityOutOfRange}.get(first, InvalidSelection)
        detail = "; ".join(p["message"] for p in problems)
        raise cls(detail, errors=problems)
    return out


def choice_literals(model: CompiledProduct, choice: Choice) -> list[int]:
    """The assumption literals that state one choice."""
    cnf = model.cnf
    if choice.kind == "excluded":
        return [-model.sel[choice.target]]
    if choice.kind == "option":
        lits = [model.sel[choice.target]]
        var = model.qty[choice.target]
        if choice.quantity is not None and var.bits:
            lits.append(cnf.int_eq(var, choice.quantity))
        return lits
    return [cnf.int_eq(model.comp[choice.target], choice.quantity)]


def assumptions_for(model: CompiledProduct, choices: list[Choice], context: Mapping[str, str]) -> Assumptions:
    return Assumptions(model.context_literals(context), [(c, choice_literals(model, c)) for c in choices])
