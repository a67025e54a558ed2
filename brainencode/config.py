"""Validate a pipeline config against the JSON schema, fill defaults, report one-line errors."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from brainencode.errors import BrainencodeError

# inside the package, so that an installed brainencode validates configs without the checkout
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "config.schema.yaml"


def _inline(node: Any, root: dict) -> Any:
    """The schema with every local ``$ref`` replaced by what it points to (siblings of the
    ``$ref`` win), so that defaults behind a reference are filled in like any other."""
    if isinstance(node, list):
        return [_inline(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**target, **rest}, root)
    return {key: _inline(value, root) for key, value in node.items()}


@cache
def load_schema(schema_path: Path = SCHEMA_PATH) -> dict:
    """The config schema, references inlined."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    return _inline(schema, schema)


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


def _allowed(schema: dict, instance: dict) -> list[str]:
    """The keys an object may have: its properties and those of the if/then branches that
    apply to it (a dataset's format block)."""
    allowed = set(schema.get("properties", {}))
    for branch in schema.get("allOf", []):
        condition = branch["if"]["properties"]
        if all(instance.get(key) == rule["const"] for key, rule in condition.items()):
            allowed |= set(branch["then"].get("properties", {}))
    return sorted(allowed)


def _describe(error: jsonschema.ValidationError) -> str:
    """One line: the dotted key and what the schema expected there."""
    path = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        allowed = _allowed(error.schema, error.instance)
        extra = sorted(set(error.instance) - set(allowed))
        where = path if error.absolute_path else "top level"
        return (f"unknown key {', '.join(map(repr, extra))} at {where} "
                f"(allowed: {', '.join(allowed)})")
    if error.validator == "type":
        return f"{path}: expected {error.validator_value}, got {error.instance!r}"
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        key = f"{path}.{missing}" if error.absolute_path else missing
        block = "format" not in error.schema.get("properties", {}) and "description" in error.schema
        if "format" in error.instance and block:  # the keys of one dataset format
            return (f"{key}: required for format {error.instance['format']} "
                    f"({error.schema['description'].rstrip('.')})")
        return f"{key}: required"
    if error.validator == "enum":
        return f"{path}: expected one of {error.validator_value}, got {error.instance!r}"
    return f"{path}: {error.message}"


def _validate(instance: dict, schema: dict, source: str) -> None:
    """Validate in place, defaults filled in; the first error as one BrainencodeError line."""
    validator_class = _with_defaults(jsonschema.validators.validator_for(load_schema()))
    errors = list(validator_class(schema).iter_errors(instance))
    if errors:
        # deepest first: the most specific message names the offending key
        error = max(errors, key=lambda e: len(e.absolute_path))
        raise BrainencodeError(f"{source}: {_describe(error)}")


def validate_config(config: dict, source: str = "config") -> dict:
    """Validate ``config`` in place (defaults filled in) and check cross-references.

    Raises BrainencodeError with one line naming ``source``, the key and what was expected.
    """
    _validate(config, load_schema(), source)
    _check_references(config, source)
    _check_captioning(config, source)
    _check_decoding(config, source)
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
    for i, unit in enumerate(captioning["units"]):
        if unit["model"] not in models:
            raise BrainencodeError(f"{source}: captioning.units.{i}.model: expected one of the "
                                   f"models {sorted(models)}, got {unit['model']!r}")
    if captioning["targets"] != "brain" and not captioning["units"]:
        raise BrainencodeError(f"{source}: captioning.units: expected at least one model layer "
                               f"for targets {captioning['targets']!r}")
    subjects = config["dataset"]["subjects"]
    if config["dataset"]["format"] == "demo":  # the demo's surface subjects are fMRI too
        subjects = subjects + config["demo"]["surface"]["subjects"]
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


def _check_models(entries: list[dict], models: dict, key: str, source: str) -> None:
    for i, entry in enumerate(entries):
        if entry["model"] not in models:
            raise BrainencodeError(f"{source}: {key}.{i}.model: expected one of the models "
                                   f"{sorted(models)}, got {entry['model']!r}")


def _check_subjects(listed: list[str], known: list[str], key: str, source: str) -> None:
    unknown = sorted(set(listed) - set(known))
    if unknown:
        raise BrainencodeError(f"{source}: {key}: expected dataset subjects {known}, got "
                               f"{unknown[0]!r}")


def _check_decoding(config: dict, source: str) -> None:
    """Decoding and shared-space targets name models; their subjects are the dataset's; the
    shared space needs an ROI per target and two subjects."""
    subjects = list(config["dataset"]["subjects"])
    if config["dataset"]["format"] == "demo":
        subjects += config["demo"]["surface"]["subjects"] + config["demo"]["seeg"]["subjects"]
    decoding = config.get("decoding")
    if decoding:
        _check_models(decoding["targets"], config["models"], "decoding.targets", source)
        _check_subjects(decoding.get("subjects", []), subjects, "decoding.subjects", source)
        _check_subjects(decoding.get("classification", {}).get("subjects", []), subjects,
                        "decoding.classification.subjects", source)
    shared = config.get("shared_space")
    if shared:
        _check_models(shared["targets"], config["models"], "shared_space.targets", source)
        for i, target in enumerate(shared["targets"]):
            if "roi" not in target:
                raise BrainencodeError(f"{source}: shared_space.targets.{i}.roi: expected the "
                                       "ROI whose voxels the subjects share")
        _check_subjects(shared.get("subjects", []), subjects, "shared_space.subjects", source)
        if "subjects" in shared and len(shared["subjects"]) < 2:
            raise BrainencodeError(f"{source}: shared_space.subjects: expected two subjects "
                                   f"at least, got {shared['subjects']}")


def validate_dataset(dataset: dict, source: str = "config") -> dict:
    """A dataset section checked against its format's block, defaults filled in (a copy): what
    every loader reads, so that no loader restates a default."""
    wrapped = {"dataset": _copy(dataset)}  # so that errors name dataset.<key>
    schema = {"type": "object", "properties": {"dataset": load_schema()["properties"]["dataset"]}}
    _validate(wrapped, schema, source)
    return wrapped["dataset"]


def load_config(path: str | Path) -> dict:
    """Read a YAML config file and validate it."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BrainencodeError(f"{path}: cannot read YAML config ({exc})") from None
    return validate_config(config, str(path))
