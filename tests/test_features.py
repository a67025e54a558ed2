"""Feature extraction: real MiniLM weights, untrained MiniLM, missing trained weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainencode.demo.stimuli import make_demo_stimuli
from brainencode.errors import BrainencodeError
from brainencode.features.extract import extract_features
from brainencode.features.store import load_features

TINY_VIT = {"family": "vit", "trained": False, "seed": 3, "pooling": "mean", "batch_size": 4,
            "config": {"hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 2,
                       "intermediate_size": 64, "image_size": 64, "patch_size": 16}}
MINILM = {"family": "minilm", "trained": True, "pooling": "mean", "batch_size": 8}


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory):
    return make_demo_stimuli(out_dir=tmp_path_factory.mktemp("stimuli"), n_stimuli=10,
                             image_size=64, seed=0)


def test_minilm_real_weights_put_paraphrases_closer_than_unrelated(tmp_path):
    sentences = ["A man is playing a guitar.", "Someone plays the guitar.",
                 "The stock market fell sharply today.", "A cat sleeps on the sofa.",
                 "A kitten is napping on the couch."]
    table = tmp_path / "text.tsv"
    pd.DataFrame({"stimulus_id": [f"s{i}" for i in range(5)], "modality": "text",
                  "text": sentences}).to_csv(table, sep="\t", index=False)
    meta = extract_features(stimuli=table, spec={**MINILM, "input": "text"},
                            out_dir=tmp_path / "minilm")
    assert meta["layers"][-1] == "layer06" and len(meta["layers"]) == 7
    _, layers = load_features(tmp_path / "minilm")
    e = layers["layer06"]
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    similarity = e @ e.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3
    assert similarity[3, 4] > similarity[3, 2] + 0.3
    assert similarity[3, 4] > similarity[3, 0]


def test_missing_trained_weights_name_where_to_put_them(stimuli, tmp_path):
    spec = {**TINY_VIT, "trained": True, "path": str(tmp_path / "no-such-model")}
    with pytest.raises(BrainencodeError, match="weights not found at .*no-such-model"):
        extract_features(stimuli=stimuli, spec=spec, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_untrained_minilm_is_reproducible_and_differs_from_trained(tmp_path):
    table = tmp_path / "text.tsv"
    pd.DataFrame({"stimulus_id": ["a", "b", "c"], "modality": "text",
                  "text": ["a red circle", "the dog runs", "a small blue square"]}).to_csv(
        table, sep="\t", index=False)
    untrained = {**MINILM, "trained": False, "seed": 1, "config": {}, "input": "text"}
    meta = extract_features(stimuli=table, spec=untrained, out_dir=tmp_path / "u1")
    extract_features(stimuli=table, spec=untrained, out_dir=tmp_path / "u2")
    extract_features(stimuli=table, spec={**MINILM, "input": "text"}, out_dir=tmp_path / "trained")
    assert meta["trained"] is False and meta["seed"] == 1 and "untrained" in meta["model_id"]
    _, first = load_features(tmp_path / "u1")
    _, second = load_features(tmp_path / "u2")
    _, trained = load_features(tmp_path / "trained")
    for layer in first:
        np.testing.assert_array_equal(first[layer], second[layer])
    assert not np.allclose(first["layer06"], trained["layer06"], atol=1e-2)


def test_an_edited_image_reruns_its_features_and_relative_paths_survive_the_copy(tmp_path, env):
    """A user's table with relative image paths (format: table, which copies the table into the
    results): the pipeline finds the images, and rotating one of them reruns the features step
    (it depends on the image files, not only on the table), which the content-keyed cache then
    extracts anew."""
    import yaml
    from PIL import Image

    from tests.conftest import snakemake
    from tests.test_bad_inputs import write_image_table

    data = tmp_path / "my_data"
    rng = np.random.default_rng(0)
    write_image_table(data / "stimuli.tsv", "abcd", 32, rng)
    np.save(data / "responses.npy", rng.normal(size=(4, 3)))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "results": str(tmp_path / "results"),
        "dataset": {"format": "table", "subjects": ["sub-01"], "path": str(data / "responses.npy"),
                    "stimuli_table": str(data / "stimuli.tsv")},
        "models": {"vit": TINY_VIT}}))
    features = tmp_path / "results" / "features" / "main" / "vit"
    run = snakemake(env, "--configfile", str(config), "--", str(features))
    assert run.returncode == 0, run.stderr[-3000:]
    first = np.load(features / "layer01.npy")
    dry = snakemake(env, "-n", "--configfile", str(config), "--", str(features))
    assert "Nothing to be done" in dry.stdout
    image = data / "images" / "c.png"
    Image.open(image).rotate(90).save(image)
    dry = snakemake(env, "-n", "--configfile", str(config), "--", str(features))
    assert "rule features" in dry.stdout and str(image) in dry.stdout
    assert snakemake(env, "--configfile", str(config), "--", str(features)).returncode == 0
    again = np.load(features / "layer01.npy")
    assert not np.array_equal(again[2], first[2]) and np.array_equal(again[0], first[0])
