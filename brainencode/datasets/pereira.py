"""Pereira et al. 2018 (Nat Commun 9:963): the published per-subject .mat files.

Fields read (names as published): ``examples`` [n_sentences, n_voxels] (one image per
sentence), ``keySentences`` (the sentence texts), ``labelsSentences`` (1-based index of each
example's sentence), optional ``labelsPassageForEachSentence`` (passage of each sentence: the CV
group, so that sentences of one passage never straddle train and test), and ``meta`` with
``colToCoord`` (1-based i, j, k of each voxel column), ``dimensions``, ``matrix`` (voxel -> MNI
affine), ``atlases`` (atlas names), ``rois`` (per atlas, its ROI names) and ``colToROInum``
(per atlas, each voxel's ROI number; 0 = none). ``dataset.atlas`` picks the atlas that names the
ROIs (e.g. ``language``); without it every voxel is in ROI ``all``.

``dataset.experiments`` (e.g. [243sentences, 384sentences]) reads one file per experiment and
subject (``{experiment}`` in ``path``, as published: ``examples_384sentences.mat``); their
stimuli are kept apart by an ``experiment`` column, so the Brain-Score protocol scores each
experiment on its own. ``dataset.context: passage`` gives every sentence the passage's earlier
sentences as ``context``, as Brain-Score feeds Pereira passages (benchmarks/pereira2018: each
passage is digested sentence by sentence, the model reading the passage so far).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.datasets.matfiles import field, load_mat
from brainencode.datasets.paths import experiment_paths
from brainencode.datasets.responses import Responses
from brainencode.datasets.stimuli import align_rows, read_stimuli, write_stimuli_table
from brainencode.errors import BrainencodeError


def _sentence_ids(variables: dict, path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Stimulus ids and texts of every sentence, and each example's sentence id."""
    sentences = [str(s) for s in np.atleast_1d(field(variables, "keySentences", path,
                                                       "the sentence texts"))]
    labels = np.atleast_1d(field(variables, "labelsSentences", path,
                                 "each example's sentence number")).astype(int)
    if labels.min() < 1 or labels.max() > len(sentences):
        raise BrainencodeError(f"{path}: labelsSentences: expected numbers 1..{len(sentences)} "
                               f"(into keySentences), got {labels.min()}..{labels.max()}")
    ids = [f"sentence-{i:03d}" for i in range(1, len(sentences) + 1)]
    return ids, sentences, np.array([ids[i - 1] for i in labels])


def _prefix(experiment: str | None) -> str:
    return f"{experiment}-" if experiment else ""


def _passages(variables: dict, n_sentences: int, path: Path, required: bool
              ) -> np.ndarray | None:
    if "labelsPassageForEachSentence" not in variables:
        if required:
            raise BrainencodeError(f"{path}: labelsPassageForEachSentence: missing (expected "
                                   "each sentence's passage, for dataset.context: passage)")
        return None
    passages = np.atleast_1d(variables["labelsPassageForEachSentence"]).astype(int).ravel()
    if len(passages) != n_sentences:
        raise BrainencodeError(f"{path}: labelsPassageForEachSentence: expected one passage "
                               f"per sentence ({n_sentences}), got {len(passages)}")
    return passages


def passage_contexts(sentences: list[str], passages: np.ndarray) -> list[str]:
    """Each sentence's context: the earlier sentences of its passage (in sentence order),
    joined by spaces, as Brain-Score's digest_text builds it (empty for a passage's first)."""
    contexts, earlier = [], {}
    for sentence, passage in zip(sentences, passages, strict=True):
        contexts.append(" ".join(earlier.get(passage, [])))
        earlier.setdefault(passage, []).append(sentence)
    return contexts


def write_stimuli(config: dict, out: Path) -> None:
    tables = []
    for experiment, path in experiment_paths(config, config["subjects"][0]):
        variables = load_mat(path, "Pereira examples file")
        ids, sentences, _ = _sentence_ids(variables, path)
        table = pd.DataFrame({"stimulus_id": [_prefix(experiment) + i for i in ids],
                              "modality": "text", "text": sentences})
        passages = _passages(variables, len(ids), path, config["context"] == "passage")
        if passages is not None:
            table["group"] = [f"{_prefix(experiment)}passage-{p:03d}" for p in passages]
        if config["context"] == "passage":
            table["context"] = passage_contexts(sentences, passages)
        if experiment:
            table["experiment"] = experiment
        tables.append(table)
    write_stimuli_table(pd.concat(tables, ignore_index=True), out)


def _roi_names(meta: dict, atlas: str | None, n_voxels: int, path: Path) -> np.ndarray:
    if atlas is None:
        return np.full(n_voxels, "all")
    atlases = [str(a) for a in np.atleast_1d(field(meta, "atlases", path, "atlas names"))]
    if atlas not in atlases:
        raise BrainencodeError(f"{path}: meta.atlases: expected dataset.atlas {atlas!r} among "
                               f"{atlases}")
    a = atlases.index(atlas)
    numbers = np.asarray(_per_atlas(meta, "colToROInum", a, path)).astype(int).ravel()
    names = [str(n) for n in np.atleast_1d(_per_atlas(meta, "rois", a, path))]
    if len(numbers) != n_voxels or numbers.max() > len(names):
        raise BrainencodeError(f"{path}: meta.colToROInum: expected one ROI number (0.."
                               f"{len(names)}) per voxel ({n_voxels}) for atlas {atlas!r}")
    return np.array(["none", *names])[numbers]


def _per_atlas(meta: dict, key: str, a: int, path: Path):
    values = field(meta, key, path, "one entry per atlas")
    if isinstance(values, list):
        return values[a]
    values = np.asarray(values)
    return values[:, a] if values.ndim == 2 else values


def _examples(path: Path, experiment: str | None
              ) -> tuple[np.ndarray, list[str], dict, np.ndarray]:
    """One file's examples, their stimulus ids, its meta struct and voxel coordinates."""
    variables = load_mat(path, "Pereira examples file")
    examples = np.asarray(field(variables, "examples", path,
                                "[n_sentences, n_voxels] responses"), dtype=np.float32)
    _, _, example_ids = _sentence_ids(variables, path)
    if examples.ndim != 2 or examples.shape[0] != len(example_ids):
        raise BrainencodeError(f"{path}: examples: expected [n_sentences={len(example_ids)}, "
                               f"n_voxels], got shape {examples.shape}")
    meta = field(variables, "meta", path, "the voxel metadata struct")
    ijk = np.asarray(field(meta, "colToCoord", path, "[n_voxels, 3] voxel coordinates"))
    if ijk.shape != (examples.shape[1], 3):
        raise BrainencodeError(f"{path}: meta.colToCoord: expected [{examples.shape[1]}, 3], "
                               f"got {ijk.shape}")
    return examples, [_prefix(experiment) + i for i in example_ids], meta, ijk


def load(config: dict, subject: str, stimuli: Path) -> Responses:
    parts = [(path, *_examples(path, experiment))
             for experiment, path in experiment_paths(config, subject)]
    path, _, _, meta, ijk = parts[0]
    for other, _, _, _, other_ijk in parts[1:]:
        if not np.array_equal(other_ijk, ijk):
            raise BrainencodeError(f"{other}: meta.colToCoord: expected the voxels of {path} "
                                   "(one subject's experiments share its voxels)")
    examples = np.concatenate([part[1] for part in parts])
    example_ids = [i for part in parts for i in part[2]]
    ids = list(read_stimuli(stimuli)["stimulus_id"])
    data = align_rows(examples, example_ids, ids, path, stimuli)
    attrs = {"modality": "fmri", "space": "MNI152"}
    if "matrix" in meta and "dimensions" in meta:
        attrs |= {"affine": np.asarray(meta["matrix"], float).ravel(),
                  "shape": np.asarray(meta["dimensions"], int).ravel()}
    return Responses(data=data, stimulus_ids=ids,
                     roi=_roi_names(meta, config.get("atlas"), examples.shape[1], path),
                     subject=subject, ijk=(ijk - 1).astype(np.int32), attrs=attrs)
