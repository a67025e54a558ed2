"""SUMA: the shallow untrained multihead-attention network of AlKhamissi et al. 2024
("Brain-Like Language Processing via a Shallow Untrained Multihead Attention Network").

Token embeddings feed one block of multihead attention with an input layer norm and a residual
connection, with no MLP and no positional embedding; the same block is applied ``n_cycles``
times. Every weight is drawn from N(0, 0.02) (biases 0, layer-norm gain 1) with a fixed seed:
the model is untrained by design. The paper's size is hidden 4096 with 512 heads.
"""

from __future__ import annotations

import torch
from torch import nn

from brainencode.errors import BrainencodeError
from brainencode.features.building import Extractor, Family, seeded
from brainencode.features.families_text import tokenizer_for
from brainencode.features.pooling import pool_tokens

DEFAULTS = {"hidden_size": 4096, "num_heads": 512, "n_cycles": 1, "causal": True, "std": 0.02}


class SUMA(nn.Module):
    """Embeddings, then ``h <- h + MHA(LayerNorm(h))`` for ``n_cycles`` cycles of one block."""

    def __init__(self, vocab_size: int, hidden_size: int = 4096, num_heads: int = 512,
                 n_cycles: int = 1, causal: bool = True, std: float = 0.02):
        super().__init__()
        if hidden_size % num_heads:
            raise BrainencodeError(f"models: suma: config: hidden_size {hidden_size} must be a "
                                   f"multiple of num_heads {num_heads}")
        self.n_cycles, self.causal = n_cycles, causal
        self.embed = nn.Embedding(vocab_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.attention = nn.MultiheadAttention(hidden_size, num_heads, batch_first=True)
        for name, parameter in self.named_parameters():
            if name.startswith("norm"):
                continue  # layer norm: gain 1, bias 0
            if name.endswith("bias"):
                nn.init.zeros_(parameter)
            else:
                nn.init.normal_(parameter, 0.0, std)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[torch.Tensor]:
        """Hidden states of the embeddings and of every cycle, each [batch, tokens, hidden]."""
        h = self.embed(input_ids)
        n = input_ids.shape[1]
        future = (torch.triu(torch.ones(n, n, dtype=torch.bool, device=h.device), 1)
                  if self.causal else None)
        padding = attention_mask == 0
        states = [h]
        for _ in range(self.n_cycles):
            x = self.norm(h)
            h = h + self.attention(x, x, x, attn_mask=future, key_padding_mask=padding,
                                   need_weights=False)[0]
            states.append(h)
        return states


def build(spec: dict) -> Extractor:
    if spec["trained"]:
        raise BrainencodeError("models: suma: has no trained weights, it is untrained by design "
                               "(set trained: false and a seed)")
    unknown = sorted(set(spec["config"]) - set(DEFAULTS))
    if unknown:
        raise BrainencodeError(f"models: suma: config: unknown key {unknown[0]!r} (expected "
                               f"{', '.join(DEFAULTS)})")
    settings = DEFAULTS | spec["config"]
    tokenizer, tokenizer_note = tokenizer_for(spec, "suma", "openai-community/gpt2")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = seeded(lambda: SUMA(len(tokenizer), **settings), spec["seed"])

    def run(images: None, texts: list[str]) -> list[torch.Tensor]:
        device = next(model.parameters()).device
        inputs = tokenizer(texts, padding=True, add_special_tokens=False, return_tensors="pt")
        ids, mask = inputs["input_ids"].to(device), inputs["attention_mask"].to(device)
        return [pool_tokens(h, mask, spec["pooling"]) for h in model(ids, mask)]

    layers = ["embeddings"] + [f"cycle{i:02d}" for i in range(1, settings["n_cycles"] + 1)]
    return Extractor(model, layers, run, "SUMA (AlKhamissi et al. 2024), untrained",
                     f"seed:{spec['seed']}", {"tokenizer": tokenizer_note, "suma": settings},
                     initialisation=f"SUMA's own: N(0, {settings['std']}), biases 0, norm gain 1")


FAMILIES = [Family("suma", "text", "caption", "last", "untrained by design",
                   "shallow untrained multihead attention (SUMA; AlKhamissi 2024)", build,
                   layers="embeddings, cycle01..cycleNN (one per cycle of the block)")]
