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
DATASET = config["dataset"]
DEMO = DATASET["format"] == "demo"
RSA = DATASET["format"] == "rdm"
SEEG_SUBJECTS = config["demo"]["seeg"]["subjects"] if DEMO else []
SUBJECTS = DATASET["subjects"] + SEEG_SUBJECTS
MODELS = list(config["models"])


def as_json(value):
    """Quote a config section for the command line of a verb."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def stimuli_table():
    """The demo's, the user's, or the one a format writes from its own files."""
    if DEMO:
        return f"{RESULTS}/demo/stimuli/stimuli.tsv"
    if "stimuli_table" in DATASET and DATASET["format"] != "table":
        return DATASET["stimuli_table"]
    return f"{RESULTS}/stimuli/stimuli.tsv"


def subject_dataset(subject):
    """The dataset section the responses verb reads for one subject (the demo's are BIDS)."""
    if not DEMO:
        return DATASET
    demo_bids = {"stimuli_table": stimuli_table(), "task": DATASET["task"],
                 "space": DATASET["space"]}
    if subject in SEEG_SUBJECTS:
        return DATASET | demo_bids | {"format": "bids-ieeg", "bids_root": f"{RESULTS}/demo/ieeg"}
    return DATASET | demo_bids | {"format": "bids-betas", "bids_root": f"{RESULTS}/demo/bids"}


def subject_inputs(wildcards):
    """Inputs of the responses step: the demo's simulated subject, else nothing."""
    if not DEMO:
        return []
    kind = "ieeg" if wildcards.subject in SEEG_SUBJECTS else "bids"
    return [f"{RESULTS}/demo/{kind}/{wildcards.subject}"]


def driver_models():
    """Models whose features drive the demo's simulated ROIs."""
    return sorted({r["driver"]["model"] for r in config["demo"]["rois"] if "driver" in r})
