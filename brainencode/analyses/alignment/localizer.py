"""Localize language-selective units in a model as neuroscientists localize the language network.

As brain-score/language's ``model_helpers/localize.py`` (after AlKhamissi et al. 2024, SUMA,
and 2025, "The LLM Language Network"): each localizer item is read at its last token, after
truncation to 12 tokens (BOS + 11; ``alignment.localizer.max_tokens``, applied when the
features are extracted) so that sentences and nonwords have the same length; every read-out
unit (every block's output, the input embeddings left out; SUMA's final-cycle norm and
attention outputs) gets a Welch t for sentences > nonword strings, and the top k units over
all of them are the model's "language network". k is a count (4096 by default, as Brain-Score
for SUMA) or a fraction of all units.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainencode.errors import BrainencodeError


def welch_t(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Welch's t per column, t = (mean_a - mean_b) / sqrt(var_a / n_a + var_b / n_b) with
    unbiased variances (Welch 1947; scipy.stats.ttest_ind(equal_var=False)). 0 where both
    groups are constant."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    se = np.sqrt(a.var(0, ddof=1) / len(a) + b.var(0, ddof=1) / len(b))
    diff = a.mean(0) - b.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(se > 0, diff / se, 0.0)


def n_selected(n_units: int, k: int | None = None, fraction: float | None = None) -> int:
    """How many units to keep: ``k``, else ``fraction`` of ``n_units`` (at least one)."""
    if k is not None:
        if not 1 <= k <= n_units:
            raise BrainencodeError(f"alignment.localizer.k: expected 1 to {n_units} units, "
                                   f"got {k}")
        return k
    if fraction is None or not 0 < fraction <= 1:
        raise BrainencodeError(f"alignment.localizer.fraction: expected a number in (0, 1], "
                               f"got {fraction}")
    return max(1, round(fraction * n_units))


@dataclass
class Localizer:
    """The units (columns of the layers concatenated in ``layers`` order) and their t values."""

    layers: list[str]
    widths: list[int]
    t: np.ndarray
    selected: np.ndarray

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".partial.npz"), "wb") as f:
            np.savez(f, layers=np.array(self.layers), widths=np.array(self.widths), t=self.t,
                     selected=self.selected)
        path.with_suffix(".partial.npz").replace(path)


def localizer_layers(names: list[str]) -> list[str]:
    """The layers that are searched: every block's output, not the input embeddings."""
    searched = [name for name in names if "embeddings" not in name]
    return searched or names


def localize(layers: dict[str, np.ndarray], names: list[str], condition: np.ndarray,
             k: int | None = None, fraction: float | None = None) -> Localizer:
    """Welch t (sentence > nonword) for every unit; the top-k units over all searched layers.

    ``condition`` holds 'sentence' or 'nonword' per row of the layers (localizer items).
    """
    condition = np.asarray(condition)
    searched = localizer_layers(names)
    units = np.concatenate([layers[name] for name in searched], axis=1)
    sentences, nonwords = condition == "sentence", condition == "nonword"
    if sentences.sum() < 2 or nonwords.sum() < 2:
        raise BrainencodeError("localizer: condition: expected at least 2 sentences and 2 "
                               "nonword strings")
    t = welch_t(units[sentences], units[nonwords])
    keep = n_selected(units.shape[1], k, fraction)
    selected = np.sort(np.argsort(-t, kind="stable")[:keep])
    return Localizer(searched, [layers[name].shape[1] for name in searched], t, selected)


def selected_units(layers: dict[str, np.ndarray], localizer: Localizer,
                   units: np.ndarray | None = None) -> np.ndarray:
    """The columns ``units`` (default: the localized ones) of the searched layers, concatenated
    in the localizer's order, for any stimuli."""
    all_units = np.concatenate([layers[name] for name in localizer.layers], axis=1)
    return all_units[:, localizer.selected if units is None else units]


def landmark_responses(layers: dict[str, np.ndarray], names: list[str], condition: np.ndarray,
                       item: np.ndarray, k: int | None = None, fraction: float | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The language units' response to every item of S, W, J and N (Fedorenko et al. 2010;
    AlKhamissi et al. 2024, fig. 2): per item, the mean over the localized units of each unit's
    activation, z-scored over the localizing items. Cross-validated as in the fMRI studies, so
    that S and N are not scored on the items that selected the units: the units are localized
    on the items of one parity (sentences > nonwords, as ``localize``) and measured on the
    others, then the other way round. Returns condition, item and response per scored row."""
    condition, item = np.asarray(condition, dtype=str), np.asarray(item)
    searched = localizer_layers(names)
    units = np.concatenate([layers[name] for name in searched], axis=1)
    localizing = np.isin(condition, ["sentence", "nonword"])
    out_condition, out_item, out_response = [], [], []
    for half in (0, 1):
        train = localizing & (item % 2 != half)
        test = item % 2 == half
        chosen = localize({name: layers[name][train] for name in searched}, searched,
                          condition[train], k, fraction).selected
        selected = units[:, chosen]
        mean, std = selected[train].mean(0), selected[train].std(0)
        z = (selected[test] - mean) / np.where(std > 0, std, 1.0)
        out_condition.append(condition[test])
        out_item.append(item[test])
        out_response.append(z.mean(1))
    return np.concatenate(out_condition), np.concatenate(out_item), np.concatenate(out_response)
