"""The API reference (docs/reference.md) is the one the code writes, and every example in
it is a body the service takes or gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from marshmallow import Schema
from openapi_schema_validator import OAS30Validator

from service.conversions.webhooks import SOURCES, generic, shopify, stripe, woocommerce
from service.http.contract import document
from service.http.reference import COMMAND, IncompleteExample, examples, render

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference.md"


@pytest.fixture
def spec(sqlite_app):
    return document(sqlite_app)


def _classes(app) -> dict[str, type[Schema]]:
    """Each component of the document by name, with the marshmallow schema it was made of."""
    api = app.extensions["afftrack.api"]
    return {name: key[0] for key, name in api.ma_plugin.converter.refs.items()}


def test_the_committed_reference_is_the_one_the_code_writes(spec):
    assert REFERENCE.read_text(encoding="utf-8") == render(spec), (
        f"docs/reference.md is out of date: run `{COMMAND}` and commit it"
    )


def test_the_command_writes_the_reference(sqlite_app, spec, tmp_path):
    out = tmp_path / "reference.md"
    result = sqlite_app.test_cli_runner().invoke(args=["openapi", "--markdown", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == render(spec)
    printed = sqlite_app.test_cli_runner().invoke(args=["openapi"])
    assert printed.exit_code == 0, printed.output
    assert '"openapi": "3.0.3"' in printed.output


def test_every_request_example_loads_through_its_schema(sqlite_app, spec):
    classes = _classes(sqlite_app)
    sent = [e for e in examples(spec) if e.sent]
    names = {e.name for e in sent}
    # Every body a request sends, the generic webhook's three and each rule type among them.
    for name in (
        "GenericOrder",
        "GenericRefund",
        "GenericCancel",
        "InfluencerIn",
        "CampaignIn",
        "PartnershipIn",
        "LinkIn",
        "LinkPatch",
        "PromoCodeIn",
        "DeliverableIn",
        "AdjustmentIn",
        "RejectIn",
        "PercentRule",
        "FlatRule",
        "TieredPercentRule",
        "CpcRule",
        "PerPostRule",
        "RuleTier",
    ):
        assert name in names, name
    for example in sent:
        classes[example.name]().load(example.value)  # raises, naming the field, if not


def test_every_example_is_valid_against_the_document(spec):
    shown = examples(spec)
    assert any(not e.sent for e in shown)
    for example in shown:
        validator = OAS30Validator({**example.schema, "components": spec["components"]})
        errors = [e.message for e in validator.iter_errors(example.value)]
        assert errors == [], (example.name, errors)


def test_the_generic_examples_are_read_as_the_events_they_show(spec):
    bodies = {e.name: e.value for e in examples(spec) if e.name.startswith("Generic")}
    order, refund, cancel = (
        generic.parse(bodies[name], {}, "aff_click")[0]
        for name in ("GenericOrder", "GenericRefund", "GenericCancel")
    )
    assert order.amount_minor == 10800  # subtotal minus discount, in cents
    assert refund.order_id == cancel.order_id == order.order_id


def test_a_request_body_without_an_example_for_a_required_field_is_refused(spec):
    schemas = spec["components"]["schemas"]
    broken = {**spec, "components": {**spec["components"], "schemas": dict(schemas)}}
    order = dict(schemas["GenericOrder"])
    order["properties"] = {
        **order["properties"],
        "order_id": {k: v for k, v in order["properties"]["order_id"].items() if k != "example"},
    }
    broken["components"]["schemas"]["GenericOrder"] = order
    with pytest.raises(IncompleteExample, match=r"GenericOrder\.order_id"):
        render(broken)


def test_the_generic_webhook_bodies_are_the_schemas_that_read_them(sqlite_app, spec):
    operation = spec["paths"]["/webhooks/{source}"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    generic_bodies, platform = body["anyOf"]
    assert generic_bodies["discriminator"]["propertyName"] == "type"
    mapping = generic_bodies["discriminator"]["mapping"]
    assert {r["$ref"] for r in generic_bodies["oneOf"]} == set(mapping.values())
    classes = _classes(sqlite_app)
    for kind, ref in mapping.items():
        name = ref.rsplit("/", 1)[1]
        assert classes[name] is generic.BODIES[kind]
        component = spec["components"]["schemas"][name]
        assert list(component["properties"]) == list(generic.BODIES[kind]().fields)
        assert component["properties"]["type"]["enum"] == [kind]
        assert "type" in component["required"]
        for field, prop in component["properties"].items():
            assert "example" in prop, (name, field)
            assert field == "type" or prop.get("description"), (name, field)
    assert set(platform["x-fields-read"]) == {"shopify", "woocommerce", "stripe"}


@pytest.mark.parametrize("module", [shopify, woocommerce, stripe], ids=lambda m: m.__name__)
def test_each_platform_field_listed_is_one_its_parser_reads(module):
    source = Path(module.__file__).read_text(encoding="utf-8")
    start = source.index("FIELDS_READ")
    code = source[:start] + source[source.index("\n)\n", start) :]  # all but the table
    name = module.__name__.rsplit(".", 1)[1]
    assert SOURCES[name].fields_read == module.FIELDS_READ
    for fields, _use in module.FIELDS_READ:
        for path in fields.split(","):
            for part in re.split(r"\[\]\.?|\.", path.strip()):
                if part:
                    assert f'"{part}"' in code, (name, path, part)
