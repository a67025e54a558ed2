# Config validation and helpers shared by the rules.
import json
import math
import os
import shlex
import sys

from brainencode.config import validate_config
from brainencode.datasets.responses import count_targets
from brainencode.errors import BrainencodeError
from brainencode.reports.captions import ALIGNMENT_FIGURES, SUBJECT_FIGURES

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
MODELS = [name for name, spec in config["models"].items() if spec["encode"]]


# Cluster resources (mem_mb in MB, runtime in minutes), scaled by the attempt so that a
# profile's `retries` asks for more after a job ran out. Heavy rules derive them from their
# input sizes; the rest use the profile's default-resources.
FEATURE_GPUS = 0 if config["encoding"]["device"] == "cpu" else 1
TARGETS_PER_CHUNK = config["encoding"]["targets_per_chunk"]


def size_mb(path):
    """A file's or a folder's size in MB."""
    if os.path.isdir(path):
        return sum(size_mb(os.path.join(path, name)) for name in os.listdir(path))
    return os.path.getsize(path) / 1e6


def encoding_chunks(wildcards):
    """Chunk numbers of a subject's targets, encoding.targets_per_chunk each (at least one);
    the responses rule is a checkpoint, so the count comes from the file it wrote."""
    responses = checkpoints.responses.get(subject=wildcards.subject).output[0]
    return list(range(max(1, math.ceil(count_targets(responses) / TARGETS_PER_CHUNK))))


def _chunk_input_mb(wildcards, input):
    """What one encode_chunk job holds: its share of the responses and the model's features."""
    return size_mb(input.responses) / len(encoding_chunks(wildcards)) + size_mb(input.features)


def encode_mem_mb(wildcards, input, attempt):
    # the data several times over (float64 copies, fold splits, predictions) + the runtime
    return int((1000 + 6 * _chunk_input_mb(wildcards, input)) * attempt)


def encode_runtime(wildcards, input, attempt):
    return int((10 + _chunk_input_mb(wildcards, input) / 20) * attempt)


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
    return sorted({r["driver"]["model"] for r in config["demo"]["rois"]
                   if "model" in r.get("driver", {})})


# The alignment stage (workflow/rules/alignment.smk): variants of each model, data files.
ALIGNMENT = config.get("alignment", {})
ALIGNMENT_SIDES = [side for side in ("language", "vision") if side in ALIGNMENT]


def alignment_variants(side):
    """Variant name -> (model name, model entry) for one side."""
    variants = {}
    for model, spec in ALIGNMENT[side]["models"].items():
        if spec["trained"]:
            variants[model] = (model, spec)
        for seed in ALIGNMENT["untrained_seeds"]:
            variants[f"{model}-untrained-seed{seed}"] = (
                model, spec | {"trained": False, "seed": seed})
    return variants


def alignment_stimuli(side):
    """The side's stimuli table: the user's, or one its format writes."""
    dataset = ALIGNMENT[side]["dataset"]
    if "stimuli_table" in dataset and dataset["format"] != "table":
        return dataset["stimuli_table"]
    return f"{RESULTS}/alignment/{side}/stimuli.tsv"


def alignment_targets(side):
    return expand(f"{RESULTS}/alignment/{side}/targets/{{subject}}.h5",
                  subject=ALIGNMENT[side]["dataset"]["subjects"])


def alignment_figures():
    """The summary's figures: one of bars per side that runs, and the layer-wise curves."""
    names = [*ALIGNMENT_SIDES, "layers"] if ALIGNMENT_SIDES else []
    return [report(f"{RESULTS}/alignment/summary/alignment_{name}.png",
                   caption=f"../report/alignment_{name}.rst", category="Alignment")
            for name in names]


def alignment_outputs():
    if not ALIGNMENT_SIDES:
        return []
    return [f"{RESULTS}/alignment/summary/summary.tsv"]


# The captioning stage (workflow/rules/captioning.smk): LaVCa voxel captions.
CAPTIONING = config.get("captioning", {})
CAPTIONING_SUBJECTS = CAPTIONING.get("subjects", DATASET["subjects"]) if CAPTIONING else []


def captioning_dirs():
    return [f"{RESULTS}/captioning/{s}" for s in CAPTIONING_SUBJECTS]


def captioning_outputs():
    """What the report reads of the stage: per subject its tables and gallery."""
    return [f"{d}/{name}" for d in captioning_dirs()
            for name in ("summary.tsv", "gallery.png")]
