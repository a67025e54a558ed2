"""Voxel captioning (LaVCa): the chat-completions client against a local server speaking the
protocol, prompts, describers, the BrainSCUBA-style projection and the evaluation metric."""

from __future__ import annotations

import logging
import socket
import time

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr

from brainencode.analyses.captioning.captioners import EndpointCaptioner
from brainencode.analyses.captioning.describers import (
    EXTRACTIVE,
    ExtractiveDescriber,
    LLMDescriber,
    TextEncoders,
    grounded_keywords,
    parse_keywords,
)
from brainencode.analyses.captioning.embedding import SentenceEmbedder
from brainencode.analyses.captioning.evaluation import derangement
from brainencode.analyses.captioning.llm_client import ChatClient, LocalChat
from brainencode.analyses.captioning.prompts import load_prompt
from brainencode.analyses.captioning.selection import (
    brainscuba_nearest,
    pick_voxels,
    split_stimuli,
)
from brainencode.encoders.metrics import spearman_r
from brainencode.errors import BrainencodeError
from tests.chat_server import ChatServer

KEY = "sk-test-secret-0123456789"
PROMPTS = {"keywords": "keywords_v1", "sentence": "sentence_v1"}


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", KEY)
    return "TEST_LLM_KEY"


def client(server, api_key, tmp_path, **kwargs) -> ChatClient:
    settings = {"timeout_s": 5, "max_retries": 2, "backoff_s": 0.01,
                "requests_per_minute": 0} | kwargs
    return ChatClient(server.url, "test-model", api_key, tmp_path / "cache", **settings)


def no_key_anywhere(tmp_path, caplog, *texts: str) -> None:
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path
    assert KEY not in caplog.text
    for text in texts:
        assert KEY not in text


def test_chat_client_speaks_the_protocol_and_caches_answers(server, api_key, tmp_path, caplog):
    chat = client(server, api_key, tmp_path)
    messages = load_prompt("sentence_v1").render(keywords="red, circle")
    first = chat.complete(messages, temperature=0, max_tokens=50)
    assert first == '"An image with red, circle."'
    assert server.schema_errors == [] and len(server.requests) == 1
    assert server.requests[0] == {"model": "test-model", "messages": messages,
                                  "temperature": 0, "max_tokens": 50}
    assert server.authorization == [f"Bearer {KEY}"]
    # a rerun (a new client on the same cache) makes no new call
    again = client(server, api_key, tmp_path)
    assert again.complete(messages, temperature=0, max_tokens=50) == first
    assert len(server.requests) == 1 and again.n_requests == 0
    # other parameters are another request
    again.complete(messages, temperature=0.5, max_tokens=50)
    assert len(server.requests) == 2
    no_key_anywhere(tmp_path, caplog)


def test_retries_with_backoff_and_retry_after(server, api_key, tmp_path, caplog):
    server.fail_next = [(503, {}), (429, {"Retry-After": "0"})]
    chat = client(server, api_key, tmp_path)
    with caplog.at_level(logging.WARNING):
        assert chat.complete([{"role": "user", "content": "hello"}])
    assert chat.n_requests == 3
    assert "HTTP 503" in caplog.text and "retry 1 of 2" in caplog.text
    no_key_anywhere(tmp_path, caplog)


def test_gives_up_with_one_clear_line(server, api_key, tmp_path, caplog):
    server.fail_next = [(503, {})] * 5
    with pytest.raises(BrainencodeError) as info:
        client(server, api_key, tmp_path).complete([{"role": "user", "content": "x"}])
    message = str(info.value)
    assert "HTTP 503" in message and "after 3 tries" in message and server.url in message
    assert "\n" not in message
    # a request the server refuses (4xx other than 408/409/429) is not retried
    server.requests.clear()
    with pytest.raises(BrainencodeError, match="refused the request .*HTTP 400"):
        client(server, api_key, tmp_path).complete([{"role": "tool", "content": "x"}])
    assert len(server.requests) == 1
    no_key_anywhere(tmp_path, caplog, message)


def test_timeout_and_unreachable_endpoint(server, api_key, tmp_path, caplog):
    server.delay_s = 1.0
    with pytest.raises(BrainencodeError, match=r"timed out after 0.2 s, after 2 tries"):
        client(server, api_key, tmp_path, timeout_s=0.2, max_retries=1).complete(
            [{"role": "user", "content": "hello"}])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    chat = ChatClient(closed, "m", api_key, tmp_path / "cache", max_retries=1, backoff_s=0.01)
    with pytest.raises(BrainencodeError) as info:
        chat.complete([{"role": "user", "content": "x"}])
    assert "unreachable" in str(info.value) and closed in str(info.value)
    no_key_anywhere(tmp_path, caplog, str(info.value))


def test_key_is_redacted_from_server_replies_that_echo_it(server, api_key, tmp_path, caplog):
    """A server whose error bodies quote the Authorization header: the retry warning and the
    final error say [redacted] where the key was, and no part of the key is left."""
    server.echo_authorization = True
    server.fail_next = [(503, {}), (401, {})]
    with caplog.at_level(logging.WARNING), pytest.raises(BrainencodeError) as info:
        client(server, api_key, tmp_path).complete([{"role": "user", "content": "x"}])
    message = str(info.value)
    assert "Bearer [redacted]" in caplog.text and "Bearer [redacted]" in message
    no_key_anywhere(tmp_path, caplog, message)
    assert KEY[:6] not in caplog.text + message


def test_answer_cache_is_keyed_by_endpoint_and_model(server, api_key, tmp_path):
    messages = [{"role": "user", "content": "hello"}]
    client(server, api_key, tmp_path).complete(messages)
    with ChatServer() as other:
        client(other, api_key, tmp_path).complete(messages)
        assert len(other.requests) == 1  # another server is asked, not answered from the cache
    ChatClient(server.url, "other-model", api_key, tmp_path / "cache").complete(messages)
    client(server, api_key, tmp_path).complete(messages)
    assert [r["model"] for r in server.requests] == ["test-model", "other-model"]


def test_rate_limit_spaces_requests(server, api_key, tmp_path):
    chat = client(server, api_key, tmp_path, requests_per_minute=300)  # one per 0.2 s
    start = time.monotonic()
    for i in range(3):
        chat.complete([{"role": "user", "content": f"hello {i}"}])
    assert time.monotonic() - start >= 0.39


def test_no_key_no_authorization_header(server, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)
    client(server, "TEST_LLM_KEY", tmp_path).complete([{"role": "user", "content": "x"}])
    assert server.authorization == [None]


def test_prompts_are_versioned_files():
    prompt = load_prompt("keywords_v1")
    assert prompt.name == "keywords_v1"
    messages = prompt.render(captions="1. a red circle", n_keywords=3)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "1. a red circle" in messages[1]["content"] and "#" not in messages[1]["content"]
    with pytest.raises(BrainencodeError, match="unknown field"):
        prompt.render(captions="x")
    with pytest.raises(BrainencodeError, match="keywords_v1"):
        load_prompt("keywords_v9")


def test_parse_keywords():
    assert parse_keywords('Sure! ["red", "circle", "dark"]', 2) == ["red", "circle"]
    assert parse_keywords("1. red\n2. circle\n- dark", 5) == ["red", "circle", "dark"]
    assert parse_keywords("red, circle, red", 5) == ["red", "circle"]


@pytest.fixture(scope="module")
def embed():
    return SentenceEmbedder({"family": "minilm", "trained": True})


def red_voxels(embed, n_voxels: int) -> tuple[list[list[str]], TextEncoders]:
    """Training captions of coloured shapes, and voxels whose caption-space encoders point to
    "red"."""
    rng = np.random.default_rng(0)
    colours, shapes = ["red", "green", "blue", "yellow"], ["circle", "square", "triangle"]
    train = [[f"a {rng.choice(colours)} {rng.choice(shapes)} on a dark background"]
             for _ in range(200)]
    E = embed([c[0] for c in train])
    mean, std = E.mean(0), E.std(0) + 1e-6
    weights = np.tile((embed(["red"])[0] - mean) / std, (n_voxels, 1))
    return train, TextEncoders(weights, mean, std)


def test_llm_describer_and_vision_captioner_through_the_endpoint(server, api_key, tmp_path,
                                                                  embed):
    """LaVCa's steps through the endpoint: the LLM's keywords, grounded in the captions and
    filtered by the voxel's encoder (red first), then a sentence from them."""
    chat = client(server, api_key, tmp_path)
    _, encoders = red_voxels(embed, 2)
    describer = LLMDescriber(chat, "test-model", PROMPTS, {"temperature": 0, "max_tokens": 50},
                             n_keywords=3, embed=embed)
    tops = [[["a small dark circle on a red background"], ["a large red square"],
             ["a red cross", "red shape"]],
            [["a red circle"], ["a red square"]]]
    described = describer.describe(tops, encoders)
    first = described[0]
    # the fake LLM's three most common words: red, then two of voxel 0's first caption
    assert first.candidates[0] == "red" and len(first.candidates) == 3
    assert set(first.candidates[1:]) <= {"small", "dark", "circle", "background"}
    assert first.keywords[0] == "red" and first.sentence.startswith("An image with red")
    assert set(first.keywords) <= set(first.candidates)
    assert describer.is_llm and "keywords_v1" in describer.name
    n = len(server.requests)
    again = LLMDescriber(client(server, api_key, tmp_path), "test-model", PROMPTS,
                         {"temperature": 0, "max_tokens": 50}, 3, embed)
    assert again.describe(tops, encoders) == described
    assert len(server.requests) == n  # served from the cache

    image = tmp_path / "image.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(image)
    captioner = EndpointCaptioner(chat, "image_caption_v1", {"temperature": 0, "max_tokens": 40})
    assert captioner({"img1": str(image)}) == {"img1": ["a picture of coloured shapes"]}
    content = server.requests[-1]["messages"][-1]["content"]
    assert [part["type"] for part in content] == ["text", "image_url"]
    assert server.schema_errors == []


def test_grounded_keywords_drop_echoes_and_split_copied_captions():
    """A small model's reply: a copied caption gives its content words, a phrase stays one,
    a word in no caption (echoed from a worked example) is dropped."""
    top = [["a small red circle on a dark background"], ["a red square in the centre"]]
    reply = "1. a small red circle on a dark background\nred square, yellow, banana"
    assert grounded_keywords(reply, top) == ["small", "red", "circle", "dark", "background",
                                             "red square"]
    assert grounded_keywords("yellow, banana", top) == []


def test_extractive_describer_names_the_planted_concept(embed):
    train, encoders = red_voxels(embed, 1)
    describer = ExtractiveDescriber(embed, 3, train)
    shapes = ["circle", "square", "triangle"]
    top = [[f"a red {s} on a dark background"] for s in shapes] + [["a green circle"]]
    (candidates, keywords, sentence), = describer.describe([top], encoders)
    assert keywords[0] == "red" and "background" not in keywords and "dark" not in keywords
    assert set(keywords) <= set(candidates) and sentence.startswith("Images showing red")
    assert not describer.is_llm and "not an LLM" in describer.name == EXTRACTIVE


def test_brainscuba_projection_finds_the_planted_image():
    rng = np.random.default_rng(1)
    bank = rng.standard_normal((300, 16))
    coef = bank[[7, 42]] + 0.05 * rng.standard_normal((2, 16))
    assert list(brainscuba_nearest(coef, bank, temperature=0.01)) == [7, 42]


def test_split_and_voxel_picking():
    ids = [f"s{i}" for i in range(50)]
    test = split_stimuli(ids, None, 0.2, 0)
    assert test.sum() == 10 and (split_stimuli(ids, None, 0.2, 0) == test).all()
    groups = np.repeat(np.arange(10), 5)
    grouped = split_stimuli(ids, groups, 0.2, 0)
    assert len(set(groups[grouped])) == 2 and not set(groups[grouped]) & set(groups[~grouped])
    r = np.array([0.5, 0.9, 0.05, 0.7, 0.3, 0.8])
    roi = np.array(["A", "A", "A", "B", "B", "B"])
    assert list(pick_voxels(r, roi, 1, 0.1)) == [1, 5]
    assert list(pick_voxels(r, roi, 5, 0.4)) == [0, 1, 3, 5]


def test_spearman_matches_scipy_and_derangement():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 3))
    x[:5, 0] = 0.0  # ties
    expected = [spearmanr(x[:, j], y[:, j]).statistic for j in range(3)]
    assert np.allclose(spearman_r(x, y), expected)
    order = derangement(7, rng)
    assert sorted(order) == list(range(7)) and not (order == np.arange(7)).any()


def test_local_language_model_chat_is_cached(tmp_path):
    """The local-transformers describer path on a tiny untrained GPT-2 with MiniLM's tokenizer
    (the only tokenizer that ships here); its words are noise, the plumbing is real."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from brainencode.features.families_text import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    model = GPT2LMHeadModel(GPT2Config(vocab_size=tokenizer.vocab_size, n_layer=1, n_embd=32,
                                       n_head=2, n_positions=512))
    folder = tmp_path / "tiny-lm"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    chat = LocalChat(str(folder), "cpu", tmp_path / "cache")
    messages = load_prompt("sentence_v1").render(keywords="red, circle")
    reply = chat.complete(messages, max_tokens=5, temperature=0)
    assert isinstance(reply, str)
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 1
    assert chat.complete(messages, max_tokens=5, temperature=0) == reply
    with pytest.raises(BrainencodeError, match="expected a local causal language model"):
        LocalChat(str(tmp_path / "missing"))


def test_local_image_captioning_model_is_cached(tmp_path):
    """The local-transformers captioner on a tiny untrained ViT-GPT2 VisionEncoderDecoder
    (MiniLM's tokenizer); plumbing only: loading, generation, the answer cache."""
    from transformers import (
        AutoTokenizer,
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    from brainencode.analyses.captioning.captioners import TransformersCaptioner
    from brainencode.features.families_text import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(
        ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                  num_attention_heads=2, intermediate_size=64),
        GPT2Config(vocab_size=tokenizer.vocab_size, n_layer=1, n_embd=32, n_head=2,
                   add_cross_attention=True, is_decoder=True,
                   bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id))
    model = VisionEncoderDecoderModel(config)
    model.generation_config.decoder_start_token_id = tokenizer.cls_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    folder = tmp_path / "tiny-captioner"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    image = tmp_path / "image.png"
    Image.new("RGB", (40, 40), (200, 0, 0)).save(image)

    captions = TransformersCaptioner(str(folder), 5, "cpu", str(tmp_path / "cache"))(
        {"img": str(image)})
    assert list(captions) == ["img"] and isinstance(captions["img"][0], str)
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 1
    again = TransformersCaptioner(str(folder), 5, "cpu", str(tmp_path / "cache"))
    assert again({"img": str(image)}) == captions  # served from the cache
    with pytest.raises(BrainencodeError, match="expected a local image-to-text model"):
        TransformersCaptioner(str(tmp_path / "missing"), 5, "cpu", None)


def test_model_units_are_caption_targets_with_their_layer_as_roi(tmp_path):
    """MILAN-style targets: a layer's features as responses (one unit a column, the layer its
    ROI), named units-<model>-<layer> beside the subjects; a wrong layer is one line."""
    from brainencode.analyses.captioning.units import write_unit_responses
    from brainencode.config import validate_config
    from brainencode.datasets.responses import read_responses
    from brainencode.features.store import write_features
    from brainencode.plan import captioning_targets
    from tests.conftest import REPO

    rng = np.random.default_rng(0)
    layers = {"stage5": rng.normal(size=(6, 4)), "stage6": rng.normal(size=(6, 3))}
    write_features(tmp_path / "effnet", layers, {"stimulus_ids": [f"s{i}" for i in range(6)]})
    out = write_unit_responses(features=tmp_path / "effnet", model="effnet", layer="stage6",
                               out=tmp_path / "units.h5")
    units = read_responses(out)
    np.testing.assert_allclose(units.data, layers["stage6"], rtol=1e-6)
    assert list(units.roi) == ["stage6"] * 3 and units.subject == "units-effnet-stage6"
    assert units.stimulus_ids == [f"s{i}" for i in range(6)]
    with pytest.raises(BrainencodeError, match=r"layer: expected one of \['stage5', 'stage6'\]"):
        write_unit_responses(features=tmp_path / "effnet", model="effnet", layer="head",
                             out=tmp_path / "x.h5")

    import yaml

    config = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    assert captioning_targets(config) == {
        "sub-01": None, "sub-02": None,
        "units-vit-tiny-untrained-layer03": {"model": "vit-tiny-untrained", "layer": "layer03"},
        "units-effnet-stage6": {"model": "effnet", "layer": "stage6"}}
    config["captioning"]["targets"] = "brain"
    assert list(captioning_targets(config)) == ["sub-01", "sub-02"]
    config["captioning"] |= {"targets": "model", "units": []}
    with pytest.raises(BrainencodeError, match="captioning.units: expected at least one"):
        validate_config(config)
