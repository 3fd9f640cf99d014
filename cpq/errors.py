"""One error vocabulary for the whole service: stable machine codes, mapped to HTTP in one place."""

from __future__ import annotations

from dataclasses import dataclass


class CPQError(Exception):
    """Base of every error the service reports to a caller; `code` is stable and machine-readable."""

    code = "cpq_error"
    status = 400
    title = "Request could not be processed"

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(CPQError):
    code = "not_found"
    status = 404
    title = "Not found"


class UnknownProduct(NotFound):
    code = "unknown_product"
    title = "Unknown product"


class InvalidInput(CPQError):
    code = "invalid_input"
    status = 422
    title = "Invalid input"


class RulesetUnavailable(CPQError):
    code = "ruleset_unavailable"
    status = 503
    title = "No valid ruleset is loaded"


@dataclass(frozen=True, order=True)
class RuleFileError:
    """One problem in a rule or pricebook file, located to file, line and column (1-based)."""

    path: str
    line: int
    col: int
    rule_id: str
    code: str
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        hint = f" (did you mean {self.suggestion}?)" if self.suggestion else ""
        return f"{self.path}:{self.line}:{self.col}: {self.rule_id}: {self.message}{hint}"

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "rule_id": self.rule_id,
            "code": self.code,
            "message": self.message,
            "suggestion": self.suggestion,
        }


class RulesetInvalid(CPQError):
    """Loading failed; carries every error found in one pass. No partial Ruleset exists."""

    code = "ruleset_invalid"
    status = 422
    title = "The rule files have errors"

    def __init__(self, errors: list[RuleFileError]):
        self.errors = sorted(errors)
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(f"{len(self.errors)} error(s) in the rule files:\n{lines}")


class Conflict(CPQError):
    code = "conflict"
    status = 409
    title = "Conflict"


class Unauthorized(CPQError):
    code = "unauthorized"
    status = 401
    title = "Authentication required"


class Forbidden(CPQError):
    code = "forbidden"
    status = 403
    title = "Not allowed"
