"""The config schema (posenc/config.schema.yaml): the one source of every default and of every key's
description. A bottom-layer module (it imports no other posenc module), so every stage reads its defaults
from here; validation against it is in posenc.config."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"


@cache
def _schema(path: str) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def load_schema(path=SCHEMA_PATH) -> dict:
    """The schema as a fresh dictionary (callers may change it)."""
    return copy.deepcopy(_schema(str(path)))


def schema_property(key: str) -> dict:
    """The schema of one top-level key (its type, default and description)."""
    return copy.deepcopy(_schema(str(SCHEMA_PATH))["properties"][key])


def schema_defaults(section: str) -> dict:
    """{key: default} of a top-level section of the schema (e.g. "training"): what dataclasses default to."""
    properties = _schema(str(SCHEMA_PATH))["properties"][section].get("properties", {})
    return {key: copy.deepcopy(sub["default"]) for key, sub in properties.items() if "default" in sub}


def image_set_defaults() -> dict:
    """{key: default} of an image set's entry (`image_sets.<name>`)."""
    properties = _schema(str(SCHEMA_PATH))["properties"]["image_sets"]["additionalProperties"]["properties"]
    return {key: copy.deepcopy(sub["default"]) for key, sub in properties.items() if "default" in sub}


# The paper's input and evaluation size (input.size): the default of every function that takes a size.
INPUT_SIZE: int = schema_defaults("input")["size"]
