"""The PynamoDB models, the table spec and the CreateTable requests must agree (DESIGN §1)."""

from __future__ import annotations

import importlib
import pkgutil

from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

import functions
from functions.core.db import table_definition
from functions.core.tables import TABLES, table_name


def _models() -> list[type[Model]]:
    for module in pkgutil.walk_packages(functions.__path__, "functions."):
        importlib.import_module(module.name)
    found, stack = [], list(Model.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("functions."):
            found.append(cls)
    return found


def test_every_model_maps_to_a_spec_table_with_the_same_keys():
    models = _models()
    assert models, "no models found"
    by_physical = {table_name(name): spec for name, spec in TABLES.items()}
    for model in models:
        spec = by_physical[model.Meta.table_name]
        assert model._hash_keyname == spec.hash_key, model
        assert model._range_keyname == spec.range_key, model
        for attr_name, attr in model.get_attributes().items():
            if attr.attr_name in (spec.hash_key, spec.range_key):
                assert attr.attr_type == "S", (model, attr_name)


def test_every_model_index_is_in_the_spec():
    for model in _models():
        spec = next(s for n, s in TABLES.items() if table_name(n) == model.Meta.table_name)
        declared = {i.name: i for i in spec.indexes}
        for index in (v for v in vars(model).values() if isinstance(v, GlobalSecondaryIndex)):
            meta = index.Meta
            assert meta.index_name in declared, (model, meta.index_name)
            schema = {k["KeyType"]: k["AttributeName"] for k in index._get_schema()["key_schema"]}
            assert schema.get("HASH") == declared[meta.index_name].hash_key
            assert schema.get("RANGE") == declared[meta.index_name].range_key


def test_create_table_requests_follow_the_spec():
    for name, spec in TABLES.items():
        request = table_definition(name)
        assert request["TableName"] == table_name(name)
        keys = {k["KeyType"]: k["AttributeName"] for k in request["KeySchema"]}
        assert keys["HASH"] == spec.hash_key and keys.get("RANGE") == spec.range_key
        assert [i["IndexName"] for i in request.get("GlobalSecondaryIndexes", [])] == [i.name for i in spec.indexes]


def test_every_table_has_an_owner_and_a_purpose():
    for spec in TABLES.values():
        assert spec.owner in {
            "core",
            "accounts",
            "payments",
            "billing_items",
            "usage",
            "invoices",
            "billing_run",
            "events",
        }
        assert spec.purpose
