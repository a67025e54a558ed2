# Config validation and helpers shared by the rules.
import json
import os
import shlex
import sys

from brainencode.config import validate_config
from brainencode.errors import BrainencodeError

try:
    validate_config(
        config,
        source=" + ".join(map(str, workflow.configfiles)) or "config",
        schema_path=workflow.source_path("../schemas/config.schema.yaml"),
    )
except BrainencodeError as exc:
    sys.stderr.write(f"{exc}\n")
    sys.exit(2)

RESULTS = config["results"]
SUBJECTS = config["dataset"]["subjects"]
MODELS = list(config["models"])
DEMO = config["dataset"]["format"] == "demo"


wildcard_constraints:
    subject=r"sub-[A-Za-z0-9]+",
    model=r"[A-Za-z0-9_-]+",


def as_json(value):
    """Quote a config section for the command line of a verb."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def stimuli_table():
    if DEMO:
        return f"{RESULTS}/demo/stimuli/stimuli.tsv"
    return config["dataset"]["stimuli_table"]


def bids_root():
    if DEMO:
        return f"{RESULTS}/demo/bids"
    return config["dataset"]["bids_root"]


def driver_models():
    """Models whose features drive the demo's simulated ROIs."""
    return sorted({r["driver"]["model"] for r in config["demo"]["rois"] if "driver" in r})
