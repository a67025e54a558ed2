"""Trained versus untrained alignment (SUMA): localizer, Welch t, bootstrap, and the real data."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from brainencode.analyses.alignment.localizer import localize, n_selected, welch_t
from brainencode.analyses.alignment.localizer_stimuli import (
    generate_localizer,
    read_fedorenko2010,
    write_localizer_stimuli,
)
from brainencode.errors import BrainencodeError
from brainencode.features.extract import extract_features
from brainencode.features.store import load_features
from tests.browser import chromium_or_skip, render
from tests.conftest import REPO, shared


def test_welch_t_matches_scipy_and_unit_counts():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 2, (30, 5)), rng.normal(0, 1, (50, 5))
    expected = stats.ttest_ind(a, b, equal_var=False).statistic
    np.testing.assert_allclose(welch_t(a, b), expected, rtol=1e-12)
    assert welch_t(np.ones((3, 1)), np.ones((4, 1)))[0] == 0
    assert n_selected(1000, fraction=0.01) == 10 and n_selected(1000, k=7) == 7
    with pytest.raises(BrainencodeError, match="alignment.localizer.k: expected 1 to 10"):
        n_selected(10, k=11)


def test_real_fedorenko_localizer_is_read_as_240_plus_240():
    table = read_fedorenko2010(shared("fedorenko2010_localizer"))
    assert table["condition"].value_counts().to_dict() == {"sentence": 240, "nonword": 240}
    assert (table["text"].str.split().str.len() == 12).all()
    assert table["stimulus_id"].is_unique and table["text"].str.islower().all()


def test_generated_localizer_has_the_shape_of_the_real_one():
    table = generate_localizer(seed=3)
    assert table["condition"].value_counts().to_dict() == {"sentence": 240, "nonword": 240}
    assert (table["text"].str.split().str.len() == 12).all()
    assert table["text"][table["condition"] == "sentence"].is_unique
    assert generate_localizer(seed=3).equals(table)


@pytest.mark.parametrize("source", ["generated", "real"])
def test_localizer_on_minilm_separates_held_out_sentences_from_nonwords(source, tmp_path):
    """Units selected on half of the items respond more to the other half's sentences than
    to its nonword strings; an untrained model's selection is the same for the same seed."""
    if source == "real":
        source = str(shared("fedorenko2010_localizer"))
    table = write_localizer_stimuli(source=source, out=tmp_path / "loc.tsv", seed=0)
    extract_features(stimuli=tmp_path / "loc.tsv", spec={"family": "minilm", "pooling": "last"},
                     out_dir=tmp_path / "minilm", device="cpu")
    meta, layers = load_features(tmp_path / "minilm")
    condition = table["condition"].to_numpy()
    half = (np.arange(len(table)) // 2) % 2 == 0  # the generated items alternate conditions
    localizer = localize({k: v[half] for k, v in layers.items()}, meta["layers"],
                         condition[half], fraction=0.01)
    assert localizer.layers == meta["layers"][1:] and len(localizer.selected) == 23
    units = np.concatenate([layers[name] for name in localizer.layers], 1)[:, localizer.selected]
    score = units[~half].mean(1)
    held_out = condition[~half]
    sentences, nonwords = score[held_out == "sentence"], score[held_out == "nonword"]
    auc = stats.mannwhitneyu(sentences, nonwords).statistic / (len(sentences) * len(nonwords))
    assert auc > 0.95

    for run in ("a", "b"):
        extract_features(stimuli=tmp_path / "loc.tsv",
                         spec={"family": "minilm", "trained": False, "seed": 4, "pooling": "last"},
                         out_dir=tmp_path / run, device="cpu")
    picks = [localize(load_features(tmp_path / run)[1], meta["layers"], condition, k=50).selected
             for run in ("a", "b")]
    np.testing.assert_array_equal(*picks)


@pytest.mark.slow
def test_suma_alignment_example_on_real_data(env, tmp_path):
    """config/examples/suma_alignment.yaml through Snakemake (smaller SUMA, 2 seeds): on the
    Kriegeskorte 2008 hIT RDMs the trained EfficientNet-Lite0 aligns better than its untrained
    twin, on the Pereira 2018 sentences trained MiniLM and SmolLM2 predict better than their
    untrained twins."""
    for name in ("fedorenko2010_localizer", "pereira2018_averaged",
                 "kriegeskorte2008_92images_hIT_RDMs"):
        shared(name)
    config = yaml.safe_load((REPO / "config" / "examples" / "suma_alignment.yaml").read_text())
    config["results"] = str(tmp_path / "results")
    config["alignment"]["untrained_seeds"] = [0, 1]
    config["alignment"]["language"]["models"]["suma"] |= {
        "config": {"hidden_size": 512, "num_heads": 64},
        "localize": {"fraction": 0.5}}  # the paper's 4096 of 8192 units, at this size
    # untrained SmolLM2 at 8 of its 30 blocks (4608 units; the trained one is the real model)
    config["alignment"]["language"]["models"]["smollm2"] |= {
        "config": {"num_hidden_layers": 8}}
    config["alignment"]["bootstrap"]["n"] = 300
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    result = subprocess.run(["snakemake", "--cores", "2", "--configfile", str(config_path)],
                            cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "results" / "alignment" / "summary"
    summary = pd.read_csv(out / "summary.tsv", sep="\t")
    print(summary.to_string())
    vision = summary[(summary["side"] == "vision")].set_index("trained")
    assert vision.loc[True, "value"] > vision.loc[False, "value"] + 0.1
    assert vision.loc[True, "minus_untrained_ci_low"] > 0
    assert vision.loc[True, "value"] < vision.loc[True, "ceiling_upper"]
    language = summary[(summary["side"] == "language") & (summary["model"] == "minilm")]
    best = language[language["condition"] == "all units, best layer"].set_index("trained")
    assert best.loc[True, "value"] > best.loc[False, "value"]
    assert best.loc[True, "minus_untrained_ci_low"] > 0
    assert set(summary["condition"]) == {"localized", "random", "all units, best layer",
                                         "best layer", "baseline"}
    baseline = summary[summary["condition"] == "baseline"]
    assert len(baseline) == 1 and baseline["model"].iloc[0] == "word count"
    assert best.loc[True, "value"] > baseline["value"].iloc[0]  # MiniLM beats counting words
    llm = summary[(summary["model"] == "smollm2") & (summary["condition"] == "localized")]
    assert llm.set_index("trained").loc[True, "minus_untrained_ci_low"] > 0  # full size: 0.326
    for figure in ("alignment_language.png", "alignment_vision.png", "alignment_layers.png",
                   "alignment_landmarks.png"):
        assert (out / figure).stat().st_size > 10_000
    protocol = pd.read_csv(out / "brainscore.tsv", sep="\t")  # Brain-Score's, raw: no ceiling
    print(protocol.to_string())
    assert set(protocol["experiment"]) == {"all"} and protocol["ceiling"].isna().all()
    assert len(protocol) == 4 * 3 + 3 + 1  # minilm, smollm2 trained + untrained; suma; words
    assert protocol["raw"].between(-1, 1).all() and (protocol["error"] > 0).all()
    landmarks = pd.read_csv(out / "landmarks.tsv", sep="\t")
    print(landmarks.to_string())
    assert set(landmarks["measure"]) == {"S", "W", "J", "N", "S-J", "W-N", "S-W", "J-N"}
    assert set(landmarks["model"]) == {"minilm", "smollm2", "suma"}
    trained = landmarks[(landmarks["model"] == "minilm") & landmarks["trained"]]
    assert (trained["ci_low"] <= trained["value"]).all()
    assert (trained["value"] <= trained["ci_high"]).all()

    # The report shows the stage: its table and figures, loaded in a real browser.
    chromium_or_skip()
    shown = render(tmp_path / "results" / "report" / "index.html", tmp_path / "report.png")
    assert shown.failed == [] and shown.console == []
    alts = {image["alt"] for image in shown.images if image["naturalWidth"] > 100}
    assert {"alignment language", "alignment vision", "alignment layers",
            "alignment landmarks"} <= alts
    assert "target bars" in {a.split(": ", 1)[-1] for a in alts}  # table data: no locations


def test_localizer_items_are_truncated_as_brain_score_and_k_is_a_count():
    """The localizer's model entries carry max_tokens 12 (BOS + 11), the language data's do
    not; null keeps whole items. k = 4096 is the default count; a model's own `localize`
    replaces it."""
    from brainencode.config import validate_config
    from brainencode.plan import alignment_variants, localizer_specs

    config = yaml.safe_load((REPO / "config" / "examples" / "suma_alignment.yaml").read_text())
    validate_config(config, "suma_alignment.yaml")
    localizer = config["alignment"]["localizer"]
    assert localizer["k"] == 4096 and localizer["max_tokens"] == 12 and "fraction" not in localizer
    language = {name: spec for name, (_, spec) in
                alignment_variants(config["alignment"], "language").items()}
    truncated = localizer_specs(language, localizer)
    assert {spec["max_tokens"] for spec in truncated.values()} == {12}
    assert all("max_tokens" not in spec for spec in language.values())
    assert localizer_specs(language, localizer | {"max_tokens": None}) == language
    assert language["minilm"]["localize"] == {"fraction": 0.01}
    assert "localize" not in language["suma-untrained-seed10"]
    assert [n for n in language if n.startswith("suma")] == [
        f"suma-untrained-seed{seed}" for seed in (10, 20, 30, 42, 50)]  # SUMA's seeds


def test_truncated_text_features_read_the_twelfth_token(tmp_path):
    """With max_tokens 12 a text model's last-token features are those of the item cut to its
    first 12 tokens (special tokens included)."""
    long = "the old man walked slowly along the river bank and then sat under a tree"
    table = tmp_path / "stimuli.tsv"
    pd.DataFrame({"stimulus_id": ["a", "b"], "modality": "text",
                  "text": [long, " ".join(long.split()[:8])]}).to_csv(table, sep="\t",
                                                                       index=False)
    spec = {"family": "minilm", "trained": True, "pooling": "last", "batch_size": 2}
    extract_features(stimuli=table, spec=spec | {"max_tokens": 12}, out_dir=tmp_path / "cut")
    meta, cut = load_features(tmp_path / "cut")
    assert meta["max_tokens"] == 12
    extract_features(stimuli=table, spec=spec, out_dir=tmp_path / "whole")
    _, whole = load_features(tmp_path / "whole")
    assert not np.allclose(cut["layer06"][0], whole["layer06"][0])  # the long item was cut
    np.testing.assert_allclose(cut["layer06"][1], whole["layer06"][1], rtol=1e-5, atol=1e-6)


def test_landmark_items_and_cross_validated_responses():
    """W is each sentence's words shuffled, J keeps its function words and replaces the rest by
    nonwords; units localized on one half of the items score the other half, and planted
    sentence-selective units give S > N there."""
    from brainencode.analyses.alignment.localizer import landmark_responses
    from brainencode.analyses.alignment.localizer_stimuli import (
        FUNCTION_WORDS,
        generate_localizer,
        landmark_items,
    )

    table = landmark_items(generate_localizer(n_per_condition=40, seed=0), seed=1)
    assert table["condition"].value_counts().to_dict() == {
        "sentence": 40, "nonword": 40, "word-list": 40, "jabberwocky": 40}
    by_item = table.set_index(["condition", "item"])["text"]
    for item in range(40):
        sentence = by_item["sentence", item].split()
        assert sorted(by_item["word-list", item].split()) == sorted(sentence)
        jabberwocky = by_item["jabberwocky", item].split()
        assert len(jabberwocky) == len(sentence)
        for word, new in zip(sentence, jabberwocky, strict=True):
            assert (new == word) == (word in FUNCTION_WORDS)
    rng = np.random.default_rng(0)
    condition = table["condition"].to_numpy()
    drive = {"sentence": 2.0, "word-list": 1.0, "jabberwocky": 1.0, "nonword": 0.0}
    units = rng.standard_normal((len(table), 50))
    units[:, :5] += np.array([drive[c] for c in condition])[:, None]  # 5 language units
    scored_condition, scored_item, response = landmark_responses(
        {"layer01": units}, ["layer01"], condition, table["item"].to_numpy(), k=5)
    assert len(response) == len(table)  # every item scored once, by the other half's units
    mean = {c: response[scored_condition == c].mean() for c in drive}
    assert mean["sentence"] > mean["word-list"] > mean["nonword"]
    assert mean["sentence"] > mean["jabberwocky"] > mean["nonword"]
