"""A set of rule files as bytes (from folders, an upload or the database) and loading it into a Ruleset."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cpq.errors import InvalidInput
from cpq.ruleset.loader import (
    TABLE_SUFFIXES,
    TESTS_DIR,
    YAML_SUFFIXES,
    discover,
    is_rule_file_key,
    load_ruleset_files,
)
from cpq.ruleset.model import Ruleset

MAX_FILES = 2000
# what the loader reads: YAML files and CSV price / adjustment tables
RULE_FILE_SUFFIXES = YAML_SUFFIXES + TABLE_SUFFIXES


@dataclass(frozen=True)
class RuleFileBlob:
    """One file: `path` as stored and shown (`rules/servers.yaml`), `key` inside its root (`servers.yaml`)."""

    path: str
    key: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class RuleFiles:
    """The rule files of one version, and the rule test cases that came with them (not part of the hash)."""

    files: tuple[RuleFileBlob, ...]
    tests: tuple[RuleFileBlob, ...] = ()

    def load(self) -> Ruleset:
        """The Ruleset of these files (RulesetInvalid with every error otherwise)."""
        return load_ruleset_files([(f.path, f.key, f.content) for f in self.files])

    def as_text(self) -> dict[str, str]:
        return {f.path: f.content.decode("utf-8", "replace") for f in (*self.files, *self.tests)}


def _sorted(blobs: Iterable[RuleFileBlob]) -> tuple[RuleFileBlob, ...]:
    # the loader's order: by key inside the root, then by path
    return tuple(sorted(blobs, key=lambda b: (b.key, b.path)))


def from_folders(paths: Sequence[str | os.PathLike]) -> RuleFiles:
    """The rule files under each folder (as `cpq lint` finds them) and the test cases under `<folder>/tests/`."""
    files, tests = [], []
    seen: set[Path] = set()  # a folder given twice (rules = pricebooks) is read once, as discover does
    for raw in paths:
        root = Path(raw)
        label = root.resolve().name
        for path, key in discover([root]):
            if path in seen:
                continue
            seen.add(path)
            shown = f"{label}/{key}" if root.is_dir() else key
            files.append(RuleFileBlob(shown, key, path.read_bytes()))
        cases = root / TESTS_DIR
        if root.is_dir() and cases.is_dir():
            for path in sorted(cases.rglob("*")):
                if path.is_file() and path.suffix in YAML_SUFFIXES and path.resolve() not in seen:
                    seen.add(path.resolve())
                    key = path.relative_to(root).as_posix()
                    tests.append(RuleFileBlob(f"{label}/{key}", key, path.read_bytes()))
    return RuleFiles(_sorted(files), _sorted(tests))


def from_mapping(mapping: Mapping[str, str | bytes]) -> RuleFiles:
    """Files uploaded as {path: text}: `rules/servers.yaml`, `pricebooks/list-eur.yaml`, `rules/tests/…`.

    The first path segment is the root folder, the rest the key inside it, so an upload of the same
    files has the same version as the folders on disk.
    """
    if len(mapping) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per rule set; got {len(mapping)}")
    files, tests, problems = [], [], {}
    for path, text in mapping.items():
        parts = path.split("/")
        if len(parts) < 2 or any(p in ("", ".", "..") for p in parts) or path.startswith("/") or "\\" in path:
            problems[path] = ["a file path is 'root/inside/the/root.yaml', relative, without '..'"]
            continue
        if not path.endswith(RULE_FILE_SUFFIXES):
            problems[path] = [f"rule files end in {', '.join(RULE_FILE_SUFFIXES)}"]
            continue
        key = "/".join(parts[1:])
        content = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)  # the loader reports non-UTF-8
        blob = RuleFileBlob(path, key, content)
        if key.split("/")[0] == TESTS_DIR:
            tests.append(blob)
        elif is_rule_file_key(key):
            files.append(blob)
        else:
            problems[path] = ["hidden files are not rule files"]
    if problems:
        raise InvalidInput("some file paths are not usable", errors=problems)
    return RuleFiles(_sorted(files), _sorted(tests))
