"""GET /api/v1/catalog: products, features and options of the live Ruleset, with its version."""

from __future__ import annotations

from decimal import Decimal

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from cpq.catalog import Option, Product
from cpq.errors import UnknownProduct
from cpq.ruleset.expressions import did_you_mean
from cpq.ruleset.model import Ruleset
from cpq.rulesets import active_ruleset

blp = Blueprint("catalog", __name__, url_prefix="/api/v1/catalog", description="The product catalog")


class AttributeValue(fields.Field):
    """Attribute values keep their type; decimals travel as strings ("0.96") like money."""

    def _serialize(self, value, attr, obj, **kw):
        return str(value) if isinstance(value, Decimal) else value


class QuantitySchema(Schema):
    min = fields.Integer()
    max = fields.Integer()
    default = fields.Integer()


class OptionSchema(Schema):
    id = fields.String(required=True)
    name = fields.String()
    category = fields.String()
    attributes = fields.Dict(keys=fields.String(), values=AttributeValue())
    quantity = fields.Nested(QuantitySchema)


class FeatureSchema(Schema):
    id = fields.String(required=True)
    label = fields.String()
    min = fields.Integer()
    max = fields.Integer()
    quantity = fields.Boolean(metadata={"description": "options in this group are chosen with a quantity"})
    default = fields.List(fields.String())
    options = fields.List(fields.Nested(OptionSchema))


class ComponentSchema(Schema):
    id = fields.String()
    product = fields.String()
    min = fields.Integer()
    max = fields.Integer()
    default = fields.Integer()


class ProductSchema(Schema):
    id = fields.String(required=True)
    name = fields.String()
    family = fields.String()
    category = fields.String()
    attributes = fields.Dict(keys=fields.String(), values=AttributeValue())
    features = fields.List(fields.Nested(FeatureSchema))
    components = fields.List(fields.Nested(ComponentSchema))
    constraint_count = fields.Integer()
    rule_count = fields.Integer()


class CatalogSchema(Schema):
    version = fields.String(required=True, metadata={"description": "content hash of the ruleset"})
    products = fields.List(fields.Nested(ProductSchema))


def _option(option: Option) -> dict:
    return {"id": option.id, "name": option.name, "category": option.category,
            "attributes": dict(option.attributes), "quantity": vars(option.quantity)}


def describe_product(ruleset: Ruleset, product: Product) -> dict:
    """A product as the catalog shows it: features with their options, components, rule counts."""
    return {
        "id": product.id, "name": product.name, "family": product.family, "category": product.category,
        "attributes": dict(product.attributes),
        "features": [
            {"id": f.id, "label": f.label, "min": f.min, "max": f.max, "quantity": f.quantity,
             "default": list(f.default), "options": [_option(ruleset.options[o]) for o in f.options]}
            for f in product.features
        ],
        "components": [{"id": c.id, "product": c.product, "min": c.min, "max": c.max, "default": c.default}
                       for c in product.components],
        "constraint_count": len(product.constraints),
        "rule_count": len(product.rules),
    }


@blp.route("")
class Catalog(MethodView):
    @blp.response(200, CatalogSchema)
    def get(self):
        """List every product with its features and options."""
        ruleset = active_ruleset()
        return {"version": ruleset.version,
                "products": [describe_product(ruleset, p) for p in ruleset.products.values()]}


@blp.route("/products/<product_id>")
class CatalogProduct(MethodView):
    @blp.response(200, ProductSchema)
    def get(self, product_id: str):
        """One product with its features and options."""
        ruleset = active_ruleset()
        product = ruleset.products.get(product_id)
        if product is None:
            hint = did_you_mean(product_id, ruleset.products)
            raise UnknownProduct(f"unknown product '{product_id}'" + (f" (did you mean {hint}?)" if hint else ""))
        return describe_product(ruleset, product)
