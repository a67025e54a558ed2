"""sEEG/ECoG stimulus classification: region-grouped contacts against single contacts.

After Du-IN (Zheng et al. 2024): words are decoded better from the multivariate signal of the
contacts of a brain region together than from any single contact. Each stimulus' label (a
column of the stimuli table, e.g. the demo's shape words) is classified from high-gamma window
means: the windows of every contact of one region (``region``), of one contact (``contact``),
or of all contacts (``all``). The classifier is ridge on +-1 one-hot codes with the decision the
largest output (scikit-learn's ``RidgeClassifier``), the project's RidgeCV choosing each
class' penalty by inner CV, in the encoding stage's outer folds. The best single contact is the
one with the highest held-out accuracy, an optimistic choice for the single-contact side, so
that region-grouped decoding beating it is conservative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.analyses.decoding_files import write_classification
from brainencode.datasets.responses import Responses, read_responses
from brainencode.datasets.stimuli import read_stimuli, stimulus_groups
from brainencode.encoders.cross_validation import alpha_grid, cross_validated_predictions
from brainencode.errors import BrainencodeError


def stimulus_labels(stimuli: Path, column: str, stimulus_ids: list[str]) -> np.ndarray:
    """The stimuli table's ``column`` in response order; every stimulus needs one, and there
    must be two classes at least."""
    table = read_stimuli(stimuli).set_index("stimulus_id")
    if column not in table.columns:
        raise BrainencodeError(f"{stimuli}: {column}: decoding.classification.label names "
                               f"this column, the table has {list(table.columns)}")
    labels = table.reindex(stimulus_ids)[column]
    if labels.isna().any() or (labels.astype(str) == "").any():
        raise BrainencodeError(f"{stimuli}: {column}: expected a label for every stimulus "
                               "with responses, some have none")
    labels = labels.astype(str).to_numpy()
    if len(np.unique(labels)) < 2:
        raise BrainencodeError(f"{stimuli}: {column}: expected two classes at least, every "
                               f"stimulus is {labels[0]!r}")
    return labels


def one_hot_codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The classes and the +1/-1 code of each label (scikit-learn's RidgeClassifier coding)."""
    classes = np.unique(labels)
    return classes, np.where(labels[:, None] == classes[None], 1.0, -1.0)


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The mean over classes of their recall (scikit-learn's ``balanced_accuracy_score``,
    Brodersen et al. 2010); ``predicted`` may hold many predictions, one per row."""
    predicted = np.atleast_2d(predicted)
    correct = predicted == labels[None]
    return np.mean([correct[:, labels == c].mean(1) for c in np.unique(labels)], axis=0)


def permuted_balanced_accuracy(labels: np.ndarray, predicted: np.ndarray,
                               folds: list[np.ndarray], n_permutations: int, seed: int
                               ) -> tuple[float, float]:
    """Balanced accuracy of the held-out predictions and its one-sided permutation p: the
    predictions permuted within each test fold (the fitted models kept; under the null the
    held-out labels are independent of them), p = (1 + #{null >= observed}) /
    (1 + n_permutations) (Phipson & Smyth 2010)."""
    observed = float(balanced_accuracy(labels, predicted)[0])
    rng = np.random.default_rng(seed)
    order = np.tile(np.arange(len(labels)), (n_permutations, 1))
    for test in folds:
        order[:, test] = np.stack([rng.permutation(test) for _ in range(n_permutations)])
    null = balanced_accuracy(labels, predicted[order])
    return observed, float((1 + np.sum(null >= observed - 1e-12)) / (1 + n_permutations))


def scopes(responses: Responses) -> list[tuple[str, str, np.ndarray]]:
    """(scope, name, targets) of every region (not 'other'), every contact, and all."""
    if responses.channel is None:
        raise BrainencodeError(f"{responses.subject}: channel: classification reads contacts "
                               "(sEEG/ECoG responses); these targets have no channel")
    out = [("region", region, responses.roi == region) for region in np.unique(responses.roi)
           if region != "other"]
    out += [("contact", contact, responses.channel == contact)
            for contact in dict.fromkeys(responses.channel)]
    return [*out, ("all", "all", np.ones(responses.n_targets, dtype=bool))]


def classify_subject(*, responses: Path, stimuli: Path, decoding: dict, encoding: dict,
                     out_dir: Path) -> pd.DataFrame:
    """Classify ``decoding.classification.label`` from each region's contacts, each contact
    and all contacts of one sEEG/ECoG subject; write classification.tsv (balanced accuracy,
    chance 1 / n_classes, permutation p)."""
    path = Path(responses)
    data = read_responses(path)
    column = decoding["classification"]["label"]
    labels = stimulus_labels(stimuli, column, data.stimulus_ids)
    classes, codes = one_hot_codes(labels)
    groups = stimulus_groups(stimuli, data.stimulus_ids)
    alphas = alpha_grid(encoding)
    rows = []
    for scope, name, inside in scopes(data):
        X = data.data[:, inside].astype(np.float32)
        scores, _, folds = cross_validated_predictions(
            X, codes, alphas, encoding["outer_folds"], encoding["inner_folds"],
            encoding["seed"], groups=groups, device=encoding["device"])
        predicted = classes[scores.argmax(1)]
        accuracy, p = permuted_balanced_accuracy(labels, predicted, folds,
                                                 decoding["n_permutations"], encoding["seed"])
        rows.append({"subject": data.subject, "label": column, "scope": scope, "name": name,
                     "n_features": X.shape[1], "balanced_accuracy": accuracy,
                     "chance": 1 / len(classes), "p": p})
    return write_classification(rows, Path(out_dir))
