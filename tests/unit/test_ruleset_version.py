"""The ruleset version is a content hash: same files, same version; one character changed, new version."""

from __future__ import annotations

import shutil

from cpq.ruleset.loader import load_ruleset
from tests.conftest import SAMPLE_PATHS


def copy_samples(tmp_path, name):
    target = tmp_path / name
    for src in SAMPLE_PATHS:
        shutil.copytree(src, target / src.rsplit("/", 1)[-1])
    return [str(target / "rules"), str(target / "pricebooks")]


def test_loading_the_same_files_twice_gives_the_same_version():
    assert load_ruleset(SAMPLE_PATHS).version == load_ruleset(SAMPLE_PATHS).version


def test_a_copy_in_another_folder_has_the_same_version(tmp_path):
    assert load_ruleset(copy_samples(tmp_path, "copy")).version == load_ruleset(SAMPLE_PATHS).version


def test_changing_one_character_changes_the_version(tmp_path):
    paths = copy_samples(tmp_path, "edited")
    book = tmp_path / "edited" / "pricebooks" / "list-usd.yaml"
    before = load_ruleset(paths).version
    text = book.read_text()
    book.write_text(text.replace('"900.00"', '"901.00"', 1) if '"900.00"' in text else text + "\n#")
    assert load_ruleset(paths).version != before


def test_the_ruleset_cannot_be_changed_by_a_caller():
    ruleset = load_ruleset(SAMPLE_PATHS)
    try:
        ruleset.products["X"] = None  # type: ignore[index]
    except TypeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("Ruleset.products accepted a write")
    assert "X" not in ruleset.products


def test_unchanged_files_give_back_the_same_compiled_ruleset(tmp_path):
    paths = copy_samples(tmp_path, "cached")
    first = load_ruleset(paths)
    assert load_ruleset(paths) is first
    book = tmp_path / "cached" / "pricebooks" / "list-usd.yaml"
    book.write_text(book.read_text() + "\n# edited\n")
    second = load_ruleset(paths)
    assert second is not first and second.version != first.version


def test_a_fixed_file_loads_after_a_failed_load(tmp_path):
    import pytest

    from cpq.errors import RulesetInvalid

    paths = copy_samples(tmp_path, "fixing")
    book = tmp_path / "fixing" / "pricebooks" / "list-usd.yaml"
    good = book.read_text()
    book.write_text(good.replace("currency: USD", "currency: USX", 1))
    with pytest.raises(RulesetInvalid):
        load_ruleset(paths)
    book.write_text(good)
    assert load_ruleset(paths).version == load_ruleset(SAMPLE_PATHS).version
