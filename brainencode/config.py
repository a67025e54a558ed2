"""Validate a pipeline config against the JSON schema, fill defaults, report one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from brainencode.errors import BrainencodeError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


def _with_defaults(validator_class: type) -> type:
    """Extend a jsonschema validator so that validation also inserts schema defaults."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = _copy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


def _describe(error: jsonschema.ValidationError) -> str:
    """One line: the dotted key and what the schema expected there."""
    path = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = path if error.absolute_path else "top level"
        return (f"unknown key {', '.join(map(repr, extra))} at {where} "
                f"(allowed: {', '.join(allowed)})")
    if error.validator == "type":
        return f"{path}: expected {error.validator_value}, got {error.instance!r}"
    if error.validator == "required":
        return f"{path}: {error.message}"
    if error.validator == "enum":
        return f"{path}: expected one of {error.validator_value}, got {error.instance!r}"
    return f"{path}: {error.message}"


def validate_config(config: dict, source: str = "config", schema_path: Path = SCHEMA_PATH) -> dict:
    """Validate ``config`` in place (defaults filled in) and check cross-references.

    Raises BrainencodeError with one line naming ``source``, the key and what was expected.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator_class = _with_defaults(jsonschema.validators.validator_for(schema))
    errors = sorted(validator_class(schema).iter_errors(config), key=lambda e: e.path)
    if errors:
        # deepest first: the most specific message names the offending key
        error = max(errors, key=lambda e: len(e.absolute_path))
        raise BrainencodeError(f"{source}: {_describe(error)}")
    _check_references(config, source)
    _check_captioning(config, source)
    return config


def _check_references(config: dict, source: str) -> None:
    models = config["models"]
    for i, roi in enumerate(config.get("demo", {}).get("rois", [])):
        driver = roi.get("driver")
        if driver and "model" in driver and driver["model"] not in models:
            raise BrainencodeError(
                f"{source}: demo.rois.{i}.driver.model: expected one of the models "
                f"{sorted(models)}, got {driver['model']!r}"
            )


def _check_captioning(config: dict, source: str) -> None:
    captioning = config.get("captioning")
    if not captioning:
        return
    models = config["models"]
    for key in ("model", "embedder"):
        if captioning[key] not in models:
            raise BrainencodeError(f"{source}: captioning.{key}: expected one of the models "
                                   f"{sorted(models)}, got {captioning[key]!r}")
    subjects = config["dataset"]["subjects"]
    unknown = sorted(set(captioning.get("subjects", [])) - set(subjects))
    if unknown:
        raise BrainencodeError(f"{source}: captioning.subjects: expected dataset subjects "
                               f"{subjects}, got {unknown[0]!r}")
    bank = captioning["bank"]
    needs = {"table": ["table"], "coco": ["images", "annotations"]}.get(bank["source"], [])
    for key in needs:
        if not bank.get(key):
            raise BrainencodeError(f"{source}: captioning.bank.{key}: expected a value for "
                                   f"source {bank['source']!r}")


def load_config(path: str | Path) -> dict:
    """Read a YAML config file and validate it."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BrainencodeError(f"{path}: cannot read YAML config ({exc})") from None
    return validate_config(config, str(path))
