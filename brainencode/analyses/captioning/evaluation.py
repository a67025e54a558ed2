"""LaVCa step 4: does a voxel's caption predict its responses to held-out images?

Sentence-level evaluation as in LaVCa (Matsuyama et al. 2025, section 4.2): each held-out
test image is represented by the sentence embedding of its captions, the voxel's caption by
its own; their cosine similarities are the caption's predicted responses, scored by the
Spearman correlation with the measured responses over the test images. Controls: the same with
the captions shuffled across voxels (a derangement, averaged over ``n_shuffles``), the
BrainSCUBA-style baseline caption, the extractive describer's sentence (when an LLM wrote the
captions), and, as the reference a caption tries to approach, the voxel's encoder itself (its
predicted test responses). Where the truth is planted (the demo's concept-driven ROIs), how
often the keywords and sentences name the concept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from brainencode.analyses.captioning.describers import caption_embeddings
from brainencode.analyses.captioning.embedding import SentenceEmbedder
from brainencode.analyses.captioning.files import (
    read_image_captions,
    read_selection,
    read_voxel_captions,
    write_evaluation,
)
from brainencode.analyses.captioning.selection import row_indices
from brainencode.datasets.responses import read_responses
from brainencode.encoders.metrics import spearman_r
from brainencode.errors import BrainencodeError

METHODS = ("lavca", "extractive", "shuffled", "brainscuba", "encoder")
CONTROLS = ("extractive", "shuffled", "brainscuba")  # tested against lavca


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation with no fixed point (n >= 2)."""
    while True:
        order = rng.permutation(n)
        if not (order == np.arange(n)).any():
            return order


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Per ROI (and 'all'), mean and s.e.m. of each method's Spearman, with the one-sided
    Wilcoxon signed-rank p of LaVCa > each control (CONTROLS) over voxels."""
    rows = []
    wide = scores.pivot(index=["target", "roi"], columns="method", values="spearman")
    methods = [m for m in METHODS if m in wide]
    for roi, part in [("all", wide), *wide.groupby(level="roi")]:
        for method in methods:
            values = part[method].dropna()
            row = {"roi": roi, "method": method, "mean": values.mean(),
                   "sem": values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1
                   else np.nan, "n_voxels": len(values), "p_vs_lavca": np.nan}
            if method in CONTROLS:
                pair = part[["lavca", method]].dropna()
                difference = pair["lavca"] - pair[method]
                if len(pair) >= 5 and (difference != 0).any():
                    row["p_vs_lavca"] = wilcoxon(difference, alternative="greater").pvalue
            rows.append(row)
    return pd.DataFrame(rows)


def names(texts: pd.Series, concept: str) -> pd.Series:
    """Whether each text names the concept (the word, or its plural)."""
    word = re.compile(rf"\b{re.escape(concept.lower())}s?\b")
    return texts.str.lower().map(lambda text: bool(word.search(text)))


def concept_naming(voxels: pd.DataFrame, concepts: dict[str, str], llm: bool) -> pd.DataFrame:
    """Per ROI with a planted concept and per describer (LLM, and extractive: the describer or,
    when ``llm``, the LLM's control): the share of its voxels whose
    candidate keywords (before the encoder's filter), first keyword, kept keywords and
    sentence name the concept."""
    rows = []
    for roi, concept in concepts.items():
        mine = voxels[voxels["roi"] == roi]
        if mine.empty:
            continue
        fields = {"candidates": mine["candidates"], "first_keyword":
                  mine["keywords"].str.split("; ").str[0], "keywords": mine["keywords"],
                  "sentence": mine["caption"]}
        describers = [("LLM" if llm else "extractive", fields)]
        if llm:
            describers.append(("extractive", {
                "first_keyword": mine["extractive_keywords"].str.split("; ").str[0],
                "keywords": mine["extractive_keywords"],
                "sentence": mine["extractive_caption"]}))
        for describer, texts in describers:
            for field, values in texts.items():
                rows.append({"roi": roi, "concept": concept, "describer": describer,
                             "field": field, "fraction": names(values, concept).mean(),
                             "n_voxels": len(mine)})
    return pd.DataFrame(rows, columns=["roi", "concept", "describer", "field", "fraction",
                                       "n_voxels"])


def evaluate_captions(*, selection: Path, image_captions: Path, voxel_captions: Path,
                      responses: Path, embedder: str, embedder_spec: dict, out_dir: Path,
                      n_shuffles: int, seed: int, concepts: dict | None = None
                      ) -> pd.DataFrame:
    """Write evaluation.tsv (per voxel and method), summary.tsv (per ROI and method) and
    naming.tsv (``concepts``: ROI -> its planted concept, the demo's)."""
    responses_file = Path(responses)
    picked = read_selection(selection)
    test_ids = picked.ids("test")
    voxels = read_voxel_captions(voxel_captions)
    model = picked.model
    if list(model["targets"]) != list(voxels["target"]):
        raise BrainencodeError(f"{voxel_captions}: target: expected the voxels of "
                               f"{Path(selection) / 'voxels.tsv'}, in order")
    responses = read_responses(responses_file)
    rows = row_indices(responses.stimulus_ids, test_ids, str(responses_file))
    Y = responses.data[rows][:, voxels["target"]].astype(np.float64)

    embed = SentenceEmbedder(embedder_spec, embedder)
    test = caption_embeddings(embed, read_image_captions(image_captions), test_ids)
    lavca = embed(list(voxels["caption"]))
    llm = bool(len(voxels)) and str(voxels["llm"].iloc[0]) == "True"
    scores = {"lavca": spearman_r(Y, test @ lavca.T),
              "brainscuba": spearman_r(Y, test @ embed(list(voxels["baseline_caption"])).T),
              "encoder": spearman_r(Y, model["test_prediction"])}
    if llm:
        scores["extractive"] = spearman_r(Y, test @ embed(list(voxels["extractive_caption"])).T)
    rng = np.random.default_rng(seed)
    if len(voxels) >= 2:
        scores["shuffled"] = np.mean([
            spearman_r(Y, test @ lavca[derangement(len(voxels), rng)].T)
            for _ in range(n_shuffles)], axis=0)
    else:
        scores["shuffled"] = np.full(len(voxels), np.nan)
    table = pd.DataFrame([{"subject": responses.subject, "target": t, "roi": roi,
                           "method": method, "spearman": float(scores[method][v])}
                          for method in METHODS if method in scores
                          for v, (t, roi) in enumerate(zip(voxels["target"], voxels["roi"],
                                                           strict=True))])
    summary = summarize(table)
    summary.insert(0, "subject", responses.subject)
    naming = concept_naming(voxels, concepts or {}, llm)
    naming.insert(0, "subject", responses.subject)
    write_evaluation(out_dir, table, summary, naming, {
        "describer": voxels["describer"].iloc[0] if len(voxels) else "", "llm": llm,
        "n_test": len(test_ids), "n_shuffles": n_shuffles, "embedder": embedder})
    return summary
