"""Multimodal families reading image + text: VisualBERT and LXMERT.

Both were trained on region features from a Faster R-CNN detector (2048-d per box, with box
coordinates for LXMERT). This project has no detector, so the visual tokens come from a
configurable vision backbone of the zoo instead (``backbone`` in the model's config, by default
an untrained ViT-Base): the last layer's patch tokens of a vision transformer, or the 7 x 7
grid of EfficientNet-Lite0's head, each token's box being its patch or grid cell. This is the
grid-feature variant of these models (Jiang et al. 2020, "In defense of grid features for
VQA"). Trained checkpoints expect 2048-d region features, so a trained VisualBERT/LXMERT needs
a backbone of that width; anything else is one clear error rather than a silent projection.
"""

from __future__ import annotations

import torch

from brainencode.errors import BrainencodeError
from brainencode.features import families_vision
from brainencode.features.building import HF_INITIALISATION, Extractor, Family, seeded
from brainencode.features.families_text import minilm_folder
from brainencode.features.hub import load_pretrained, weights_revision
from brainencode.features.pooling import pool_tokens

DEFAULT_BACKBONE = {"family": "vit", "trained": False, "seed": 0, "config": {}}
BERT_VOCABULARY = ("bert-base-uncased WordPiece, loaded from all-MiniLM-L6-v2, which ships the "
                   "same vocabulary")


def backbone_and_tokenizer(spec: dict, family: str):
    """The vision backbone that supplies visual tokens, and the BERT tokenizer both models use."""
    from transformers import AutoTokenizer

    backbone_spec = {**DEFAULT_BACKBONE, **spec.get("backbone", {}), "pooling": "mean"}
    backbone = {f.name: f for f in families_vision.FAMILIES}.get(backbone_spec["family"])
    if backbone is None:
        raise BrainencodeError(f"models: {family}: backbone: expected a vision family, got "
                               f"{backbone_spec['family']!r}")
    extractor = backbone.build(backbone_spec)
    if spec.get("path"):
        tokenizer, note = load_pretrained(AutoTokenizer.from_pretrained, spec, family,
                                          spec["path"]), "own"
    else:
        tokenizer, note = AutoTokenizer.from_pretrained(minilm_folder()), BERT_VOCABULARY
    provenance = {"tokenizer": note, "backbone": {k: backbone_spec[k] for k in
                                                   ("family", "trained", "seed", "config")},
                  "visual_tokens": "last-layer patch/grid tokens of the backbone"}
    return extractor, tokenizer, provenance


def visual_width(extractor: Extractor) -> int:
    from PIL import Image

    with torch.inference_mode():
        tokens, _ = extractor.visual_tokens([Image.new("RGB", (224, 224))])
    return tokens.shape[-1]


def build_multimodal(spec: dict, family: str, source: str) -> Extractor:
    import transformers

    backbone, tokenizer, provenance = backbone_and_tokenizer(spec, family)
    width = visual_width(backbone)
    lxmert = family == "lxmert"
    model_cls = transformers.LxmertModel if lxmert else transformers.VisualBertModel
    if spec["trained"]:
        model = load_pretrained(model_cls.from_pretrained, spec, family, source)
        expected = model.config.visual_feat_dim if lxmert else model.config.visual_embedding_dim
        if expected != width:
            raise BrainencodeError(
                f"models: {family}: backbone: the trained checkpoint expects {expected}-d visual "
                f"features, the backbone gives {width}-d; use a backbone of that width")
        model_id = spec.get("path") or source
        revision = weights_revision(spec, model_id)
    else:
        key = "visual_feat_dim" if lxmert else "visual_embedding_dim"
        overrides = {"vocab_size": len(tokenizer), key: width} | spec["config"]
        config_cls = transformers.LxmertConfig if lxmert else transformers.VisualBertConfig
        config = config_cls(**overrides)
        model = seeded(lambda: model_cls(config), spec["seed"])
        model_id = f"{model_cls.__name__} architecture (untrained)"
        revision = f"seed:{spec['seed']}"
    model.eval()
    # the backbone runs as part of this model: move them together
    holder = torch.nn.ModuleDict({"model": model, "backbone": backbone.model})
    config = model.config

    def text_inputs(texts: list[str], device: torch.device) -> dict:
        inputs = tokenizer(texts, padding=True, truncation=True, max_length=128,
                           return_tensors="pt")
        return {k: inputs[k].to(device) for k in ("input_ids", "attention_mask")}

    def run_visualbert(images: list, texts: list[str]) -> list[torch.Tensor]:
        tokens, _ = backbone.visual_tokens(images)
        inputs = text_inputs(texts, tokens.device)
        visual_mask = torch.ones(tokens.shape[:2], dtype=torch.long, device=tokens.device)
        hidden = model(**inputs, visual_embeds=tokens, visual_attention_mask=visual_mask,
                       output_hidden_states=True).hidden_states
        mask = torch.cat([inputs["attention_mask"], visual_mask], 1)
        return [pool_tokens(h, mask, spec["pooling"]) for h in hidden]

    def run_lxmert(images: list, texts: list[str]) -> list[torch.Tensor]:
        """Every stage's output through forward hooks, from one pass, in layer-name order:
        language embeddings and layers, visual embeddings and layers, then each
        cross-modality layer's language and vision streams."""
        tokens, boxes = backbone.visual_tokens(images)
        inputs = text_inputs(texts, tokens.device)
        mask = inputs["attention_mask"]
        stages = ([(model.embeddings, "language")]
                  + [(m, "language") for m in model.encoder.layer]
                  + [(model.encoder.visn_fc, "vision")]
                  + [(m, "vision") for m in model.encoder.r_layers]
                  + [(m, "cross") for m in model.encoder.x_layers])
        outputs: dict[int, list[torch.Tensor]] = {}

        def keep(index: int, kind: str):
            def hook(module, args, out):
                out = out if isinstance(out, tuple) else (out,)
                pooled = [pool_tokens(out[0], None if kind == "vision" else mask,
                                      "mean" if kind == "vision" else spec["pooling"])]
                if kind == "cross":
                    pooled.append(pool_tokens(out[1], None, "mean"))
                outputs[index] = pooled
            return hook

        hooks = [module.register_forward_hook(keep(i, kind))
                 for i, (module, kind) in enumerate(stages)]
        try:
            model(**inputs, visual_feats=tokens, visual_pos=boxes)
        finally:
            for hook in hooks:
                hook.remove()
        return [p for i in range(len(stages)) for p in outputs[i]]

    if lxmert:
        layers = (["language_embeddings"]
                  + [f"language_layer{i:02d}" for i in range(1, config.l_layers + 1)]
                  + ["vision_embeddings"]
                  + [f"vision_layer{i:02d}" for i in range(1, config.r_layers + 1)]
                  + [f"cross_layer{i:02d}_{side}" for i in range(1, config.x_layers + 1)
                     for side in ("language", "vision")])
    else:
        layers = ["embeddings"] + [f"layer{i:02d}"
                                   for i in range(1, config.num_hidden_layers + 1)]
    return Extractor(holder, layers, run_lxmert if lxmert else run_visualbert, model_id,
                     revision, provenance, initialisation=HF_INITIALISATION)


FAMILIES = [
    Family("visualbert", "image+text", "caption", "mean", "uclanlp/visualbert-vqa-coco-pre",
           "VisualBERT single-stream image+text transformer (Li 2019)",
           lambda spec: build_multimodal(spec, "visualbert", "uclanlp/visualbert-vqa-coco-pre")),
    Family("lxmert", "image+text", "caption", "mean", "unc-nlp/lxmert-base-uncased",
           "LXMERT two-stream transformer with cross-attention (Tan & Bansal 2019)",
           lambda spec: build_multimodal(spec, "lxmert", "unc-nlp/lxmert-base-uncased"),
           layers="language_*, vision_*, cross_layerNN_{language,vision}"),
]
