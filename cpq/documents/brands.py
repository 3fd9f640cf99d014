"""Seller and partner branding from `templates/brands/<id>/brand.yaml` (+ a logo file beside it).

`default/` is the seller's own brand. A partner's quote uses `brands/<partner id in lower case>/`
when that folder exists: the partner is the seller of record there, and any field its file leaves
out (colours, footer, …) comes from the default brand. Values are checked when read, so that a
colour can never carry CSS into the document.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cpq.documents.errors import BrandInvalid

DEFAULT = "default"
FILE = "brand.yaml"
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
BRAND_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LOGO_TYPES = (".svg", ".png", ".jpg", ".jpeg")
COLOR_NAMES = ("primary", "accent", "text", "muted", "rule", "shade")
FIELDS = {"name", "address", "tax_id", "contact", "logo", "colors", "footer", "legal"}


@dataclass(frozen=True)
class Brand:
    """A seller identity and its look: who sells, logo, colours and footer text per language."""

    id: str
    name: str
    address: str | None = None
    tax_id: str | None = None
    contact: tuple[str, ...] = ()
    logo: str | None = None  # path relative to templates/ (served by the template fetcher)
    colors: Mapping[str, str] = field(default_factory=dict)
    footer: Mapping[str, str] = field(default_factory=dict)  # language → text
    legal: Mapping[str, str] = field(default_factory=dict)  # language → standard terms paragraph

    def footer_for(self, language: str) -> str:
        return self.footer.get(language) or self.footer.get("en", "")

    def legal_for(self, language: str) -> str:
        return self.legal.get(language) or self.legal.get("en", "")


def _texts(path: Path, key: str, value) -> dict[str, str]:
    """A text that may be given once or per language ({en: …, de: …})."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"en": value}
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise BrandInvalid(f"{path}: '{key}' must be a text or a mapping of language to text")


def _read(path: Path, brand_id: str, base: Brand | None) -> Brand:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BrandInvalid(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, Mapping):
        raise BrandInvalid(f"{path}: expected a mapping of brand fields")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise BrandInvalid(f"{path}: unknown field(s) {', '.join(unknown)}; fields are {', '.join(sorted(FIELDS))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BrandInvalid(f"{path}: 'name' (the seller's legal name) is required")
    for key in ("address", "tax_id"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise BrandInvalid(f"{path}: '{key}' must be text")
    contact = data.get("contact") or []
    if isinstance(contact, str):
        contact = [contact]
    if not isinstance(contact, list) or not all(isinstance(c, str) for c in contact):
        raise BrandInvalid(f"{path}: 'contact' must be a list of lines (email, phone, web)")
    colors = dict(base.colors) if base else {}
    given = data.get("colors") or {}
    if not isinstance(given, Mapping):
        raise BrandInvalid(f"{path}: 'colors' must map {', '.join(COLOR_NAMES)} to #rrggbb colours")
    for key, value in given.items():
        if key not in COLOR_NAMES:
            raise BrandInvalid(f"{path}: unknown colour '{key}'; colours are {', '.join(COLOR_NAMES)}")
        if not isinstance(value, str) or not COLOR.match(value):
            raise BrandInvalid(f"{path}: colour '{key}' must be written #rgb or #rrggbb, not {value!r}")
        colors[key] = value
    missing = [c for c in COLOR_NAMES if c not in colors]
    if missing:
        raise BrandInvalid(f"{path}: colour(s) {', '.join(missing)} missing")
    logo = base.logo if base else None
    if data.get("logo") is not None:
        logo_file = path.parent / str(data["logo"])
        if (not isinstance(data["logo"], str) or "/" in data["logo"] or "\\" in data["logo"]
                or logo_file.suffix.lower() not in LOGO_TYPES or not logo_file.is_file()):
            raise BrandInvalid(f"{path}: 'logo' must name a {'/'.join(LOGO_TYPES)} file beside brand.yaml")
        logo = f"brands/{brand_id}/{data['logo']}"
    footer = {**(base.footer if base else {}), **_texts(path, "footer", data.get("footer"))}
    legal = {**(base.legal if base else {}), **_texts(path, "legal", data.get("legal"))}
    return Brand(id=brand_id, name=name.strip(), address=data.get("address"), tax_id=data.get("tax_id"),
                 contact=tuple(contact), logo=logo, colors=colors, footer=footer, legal=legal)


_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[tuple[float, ...], Brand]] = {}


def _stamp(*paths: Path) -> tuple[float, ...]:
    return tuple(p.stat().st_mtime if p.exists() else 0.0 for p in paths)


def load_brand(templates_dir: str | Path, partner_id: str | None = None) -> Brand:
    """The partner's brand when `brands/<partner>/brand.yaml` exists, otherwise the default brand."""
    brands = Path(templates_dir) / "brands"
    default_file = brands / DEFAULT / FILE
    if not default_file.is_file():
        raise BrandInvalid(f"{default_file}: the default brand file is missing")
    brand_id = DEFAULT
    if partner_id and BRAND_ID.match(partner_id.lower()) and (brands / partner_id.lower() / FILE).is_file():
        brand_id = partner_id.lower()
    partner_file = brands / brand_id / FILE
    key = (str(brands), brand_id)
    stamp = _stamp(default_file, partner_file)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    brand = _read(default_file, DEFAULT, None)
    if brand_id != DEFAULT:
        brand = _read(partner_file, brand_id, brand)
    with _lock:
        _cache[key] = (stamp, brand)
    return brand


def all_brands(templates_dir: str | Path) -> list[Brand]:
    """Every brand under templates/brands/ (for checking the files)."""
    brands = Path(templates_dir) / "brands"
    ids = sorted(p.name for p in brands.iterdir() if (p / FILE).is_file())
    return [load_brand(templates_dir, None if i == DEFAULT else i) for i in ids]
