"""Every complete YAML example in docs/rule-files.md loads without an error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from cpq.errors import RulesetInvalid
from cpq.ruleset.loader import load_ruleset

DOC = Path(__file__).resolve().parents[2] / "docs" / "rule-files.md"
FENCE = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
# a CSV table of the pricebook example right before it: ```csv pricebooks/erp-usd-prices.csv
TABLE_FENCE = re.compile(r"^```csv[ \t]+(\S+)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{2,4} (.+)$", re.MULTILINE)
COMPANION = re.compile(r"\A#\s*file:\s*(\S+)[ \t]*\n")
FOLDER_OF_KIND = {"product": "rules", "pricebook": "pricebooks", "approvals": "rules"}


@dataclass(frozen=True)
class Block:
    """One ```yaml block of the reference, with the line it starts on and its section."""

    line: int
    text: str
    section: str

    @property
    def companion_path(self) -> str | None:
        """The path after a leading `# file:` comment: the block goes with the example before it."""
        match = COMPANION.match(self.text)
        return match.group(1) if match else None

    @property
    def is_file(self) -> bool:
        """A complete file opens with `format: 1` (after its `# file:` comment, if any)."""
        body = COMPANION.sub("", self.text, count=1)
        return body.startswith("format: 1\n")


@dataclass
class Example:
    """A complete example: its opening block and the companion files that follow it."""

    files: list[tuple[str, Block]] = field(default_factory=list)
    tables: dict[int, list[tuple[str, Block]]] = field(default_factory=dict)  # CSV tables of files[i]

    def prefix(self, block: Block) -> list[tuple[str, Block]]:
        """The files up to and including `block` (with the tables they name): what that block needs to load."""
        index = next(i for i, (_, b) in enumerate(self.files) if b is block)
        return [*self.files[: index + 1], *(t for i in range(index + 1) for t in self.tables.get(i, ()))]


def yaml_blocks() -> list[Block]:
    text = DOC.read_text(encoding="utf-8")
    headings = [(h.start(), h.group(1)) for h in HEADING.finditer(text)]
    return [
        Block(
            line=text.count("\n", 0, m.start()) + 2,
            text=m.group(1),
            section=next(
                (title for start, title in reversed(headings) if start < m.start()), "top"
            ),
        )
        for m in FENCE.finditer(text)
    ]


def table_blocks() -> list[tuple[str, Block]]:
    text = DOC.read_text(encoding="utf-8")
    return [(m.group(1), Block(line=text.count("\n", 0, m.start()) + 2, text=m.group(2), section="table"))
            for m in TABLE_FENCE.finditer(text)]


def kind_of(block: Block) -> str | None:
    match = re.search(r"^kind:\s*(\w+)", block.text, re.MULTILINE)
    return match.group(1) if match else None


def default_path(block: Block) -> str:
    return f"{FOLDER_OF_KIND.get(kind_of(block) or '', 'rules')}/example.yaml"


def examples() -> list[Example]:
    """Group the complete files: a `# file:` block joins the example right before it."""
    grouped: list[Example] = []
    tables = table_blocks()
    for block in sorted([*yaml_blocks(), *(b for _, b in tables)], key=lambda b: b.line):
        table_path = next((path for path, b in tables if b is block), None)
        if table_path is not None:
            if not grouped or not grouped[-1].files:
                raise AssertionError(f"line {block.line}: a CSV table needs the pricebook example before it")
            grouped[-1].tables.setdefault(len(grouped[-1].files) - 1, []).append((table_path, block))
            continue
        if not block.is_file:
            if block.companion_path is not None:
                raise AssertionError(
                    f"line {block.line}: a '# file:' block must be a whole file (format: 1)"
                )
            continue  # a fragment that illustrates a few fields, not a file
        if block.companion_path is None:
            grouped.append(Example())
        elif not grouped:
            raise AssertionError(f"line {block.line}: a '# file:' block needs an example before it")
        grouped[-1].files.append((block.companion_path or default_path(block), block))
    return grouped


def file_cases():
    for example in examples():
        for path, block in example.files:
            yield pytest.param(example, block, id=f"{block.section} (line {block.line}): {path}")


@pytest.mark.parametrize(("example", "block"), list(file_cases()))
def test_the_documented_example_loads_without_errors(tmp_path, example, block):
    for path, part in example.prefix(block):
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(part.text, encoding="utf-8")
    errors: list[str] = []
    try:
        load_ruleset([tmp_path])
    except RulesetInvalid as invalid:
        errors = [str(e).replace(f"{tmp_path}/", "") for e in invalid.errors]
    if errors:
        pytest.fail("the example does not load:\n" + "\n".join(errors), pytrace=False)


@pytest.mark.parametrize("block", yaml_blocks(), ids=lambda b: f"{b.section} (line {b.line})")
def test_every_yaml_block_in_the_reference_is_valid_yaml(block):
    yaml.safe_load(block.text)


def test_the_reference_has_a_complete_example_for_each_kind_of_file():
    kinds = {kind_of(block) for example in examples() for _, block in example.files}
    assert kinds == {"product", "pricebook", "approvals"}
