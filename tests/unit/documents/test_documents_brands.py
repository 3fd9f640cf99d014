"""Brands come from templates/brands/: the partner's when it has one, the seller's default otherwise."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from cpq.documents.brands import all_brands, load_brand
from cpq.documents.errors import BrandInvalid

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


def test_every_brand_in_the_repository_loads():
    brands = {b.id: b for b in all_brands(TEMPLATES)}
    assert {"default", "acme"} <= brands.keys()
    assert brands["acme"].logo == "brands/acme/logo.svg"


def test_a_partners_quote_uses_the_partner_brand_and_falls_back_to_the_default_for_the_rest():
    acme, default = load_brand(TEMPLATES, "ACME"), load_brand(TEMPLATES, None)
    assert acme.name == "Acme Reseller GmbH"
    assert acme.colors["primary"] != default.colors["primary"]
    assert acme.colors["text"] == default.colors["text"]  # not in acme/brand.yaml
    assert acme.footer_for("de") != default.footer_for("de")


@pytest.mark.parametrize("partner", ["UNKNOWN", "../default", "../../etc", "", None])
def test_a_partner_without_a_brand_folder_gets_the_default(partner):
    assert load_brand(TEMPLATES, partner).id == "default"


@pytest.fixture
def brand_dir(tmp_path):
    shutil.copytree(TEMPLATES / "brands" / "default", tmp_path / "brands" / "default")
    (tmp_path / "brands" / "beta").mkdir()

    def write(text: str) -> Path:
        (tmp_path / "brands" / "beta" / "brand.yaml").write_text(textwrap.dedent(text))
        return tmp_path

    return write


@pytest.mark.parametrize(("text", "message"), [
    ("colors: {primary: red}\n", "'name'"),
    ("name: Beta\ncolors: {primary: 'red; } body { display: none'}\n", "#rgb or #rrggbb"),
    ("name: Beta\ncolors: {sparkle: '#fff'}\n", "unknown colour 'sparkle'"),
    ("name: Beta\nlogo: ../default/logo.svg\n", "'logo'"),
    ("name: Beta\nlogo: missing.svg\n", "'logo'"),
    ("name: Beta\nfooter: [1, 2]\n", "'footer'"),
    ("name: Beta\nslogan: hi\n", r"unknown field\(s\) slogan"),
])
def test_a_brand_file_with_a_bad_value_is_refused_with_its_path_and_field(brand_dir, text, message):
    root = brand_dir(text)
    with pytest.raises(BrandInvalid, match=message) as error:
        load_brand(root, "BETA")
    assert "beta/brand.yaml" in error.value.detail
