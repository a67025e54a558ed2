"""The image bank searched for each voxel's most activating images (LaVCa step 1).

A bank is a stimuli table of images, with ``caption`` and, when a dataset ships several per
image, all of them in ``captions`` joined by " | " (as the nsd format writes). Sources: images
drawn like the demo's (``demo``), the dataset's own stimuli (``dataset``; held-out test stimuli
are left out later), a user's stimuli table (``table``), or COCO images with their caption
annotations (``coco``, e.g. COCO-MINI or the images of NSD).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainencode.datasets.nsd import coco_captions, coco_entries
from brainencode.datasets.stimuli import (
    CAPTION_SEPARATOR,
    image_paths,
    read_stimuli,
    write_stimuli_table,
)
from brainencode.demo.stimuli import make_demo_stimuli
from brainencode.errors import BrainencodeError


def coco_bank(images: list[str], annotations: list[str]) -> pd.DataFrame:
    """Every image named in the annotation files and found in the image folders, with its
    captions; images without captions are left out (COCO-MINI's val2017 has 80 of them)."""
    where = "captioning.bank.annotations"
    files = {int(e["id"]): e["file_name"]
             for name in annotations for e in coco_entries(name, "images", where)}
    captions = coco_captions(annotations, where)
    found = {p.name: p.resolve() for folder in images for p in Path(folder).rglob("*.jpg")}
    rows = [{"stimulus_id": f"coco{image_id:012d}", "modality": "image",
             "path": str(found[files[image_id]]), "caption": texts[0],
             "captions": CAPTION_SEPARATOR.join(texts)}
            for image_id, texts in sorted(captions.items())
            if image_id in files and files[image_id] in found]
    if not rows:
        raise BrainencodeError(f"captioning.bank: no image of {annotations} was found under "
                               f"{images}")
    return pd.DataFrame(rows)


def _check_ids(bank: pd.DataFrame, dataset: pd.DataFrame, dataset_stimuli: str | Path) -> None:
    """A bank id that is also a dataset id must be the same image file."""
    ids, paths = set(dataset["stimulus_id"]), image_paths(dataset)
    for sid, path in zip(bank["stimulus_id"], bank["path"], strict=True):
        if sid in ids and paths.get(sid) != path:
            raise BrainencodeError(f"captioning.bank: stimulus_id {sid!r} names another image in "
                                   f"{dataset_stimuli}; bank ids must differ from the dataset's")


def write_bank(*, bank: dict, stimuli: Path, out_dir: Path, image_size: int) -> Path:
    """Write ``out_dir/stimuli.tsv`` (and the drawn images for a demo bank)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = bank["source"]
    if source == "demo":
        return make_demo_stimuli(out_dir=out_dir, n_stimuli=bank["n_images"],
                                 image_size=image_size, seed=bank["seed"], prefix="bank")
    if source == "coco":
        table = coco_bank(bank["images"], bank["annotations"])
    else:
        table = read_stimuli(stimuli if source == "dataset" else bank["table"])
        table = table[table["modality"] == "image"]
        if table.empty:
            raise BrainencodeError(f"captioning.bank: {source}: expected image stimuli")
    if source != "dataset":
        _check_ids(table, read_stimuli(stimuli), stimuli)
    out = out_dir / "stimuli.tsv"
    write_stimuli_table(table, out)
    return out


def bank_captions(table: pd.DataFrame) -> dict[str, list[str]]:
    """stimulus_id -> the captions a table ships (``captions``, else ``caption``)."""
    column = "captions" if "captions" in table.columns else "caption"
    if column not in table.columns:
        return {}
    return {sid: [c.strip() for c in text.split(CAPTION_SEPARATOR) if c.strip()]
            for sid, text in zip(table["stimulus_id"], table[column], strict=True) if text}
