"""Procedurally drawn images of coloured shapes, each with a caption that describes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from brainencode.datasets.stimuli import write_stimuli_table

COLOURS = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
    "yellow": (235, 210, 40), "purple": (140, 60, 180), "orange": (240, 140, 30),
}
SHAPES = ("circle", "square", "triangle", "cross")
SIZES = {"small": 0.18, "large": 0.36}
PLACES = {"upper left": (0.3, 0.3), "upper right": (0.7, 0.3), "lower left": (0.3, 0.7),
          "lower right": (0.7, 0.7), "centre": (0.5, 0.5)}
BACKGROUNDS = {"light": (225, 225, 225), "dark": (40, 40, 40)}


def _outline(shape: str, r: float, angle: float) -> list[tuple[float, float]] | None:
    """Polygon vertices of a shape of radius r around the origin, rotated; None for a circle."""
    if shape == "circle":
        return None
    if shape == "square":
        points = [(-r, -r), (r, -r), (r, r), (-r, r)]
    elif shape == "triangle":
        points = [(0, -r), (r, r), (-r, r)]
    else:
        w = r / 3
        points = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r),
                  (-w, w), (-r, w), (-r, -w), (-w, -w)]
    c, s = np.cos(angle), np.sin(angle)
    return [(x * c - y * s, x * s + y * c) for x, y in points]


def _draw(shape: str, colour: tuple, size: float, place: tuple, background: tuple,
          image_size: int, rng: np.random.Generator) -> Image.Image:
    """Draw one shape plus the visual detail a caption leaves out: position jitter, rotation,
    shade, and a few small grey distractor dots."""
    image = Image.new("RGB", (image_size, image_size), background)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(0, 9)):
        x, y = rng.uniform(0, image_size, 2)
        d = rng.uniform(0.01, 0.03) * image_size
        grey = int(rng.integers(90, 170))
        draw.ellipse([x - d, y - d, x + d, y + d], fill=(grey, grey, grey))
    cx, cy = (np.asarray(place) + rng.uniform(-0.05, 0.05, 2)) * image_size
    r = size * image_size / 2
    shade = tuple(int(np.clip(v + rng.integers(-30, 31), 0, 255)) for v in colour)
    outline = _outline(shape, r, rng.uniform(-np.pi / 6, np.pi / 6))
    if outline is None:
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=shade)
    else:
        draw.polygon([(cx + x, cy + y) for x, y in outline], fill=shade)
    return image


def make_demo_stimuli(*, out_dir: Path, n_stimuli: int, image_size: int, seed: int,
                      prefix: str = "stim") -> Path:
    """Draw ``n_stimuli`` captioned images into ``out_dir/images`` and write ``stimuli.tsv``.

    Each image is one shape with a colour, size, place and background drawn at random; its
    caption names these five, but not the rotation, shade and distractors the image also shows,
    so image and caption features overlap without being the same. Ids are ``prefix`` + a
    4-digit number.
    """
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_stimuli):
        colour = rng.choice(list(COLOURS))
        shape = rng.choice(SHAPES)
        size = rng.choice(list(SIZES))
        place = rng.choice(list(PLACES))
        background = rng.choice(list(BACKGROUNDS))
        image = _draw(shape, COLOURS[colour], SIZES[size], PLACES[place], BACKGROUNDS[background],
                      image_size, rng)
        stimulus_id = f"{prefix}{i + 1:04d}"
        relative = f"images/{stimulus_id}.png"
        image.save(out_dir / relative)
        rows.append({
            "stimulus_id": stimulus_id, "modality": "image", "path": relative,
            "caption": f"a {size} {colour} {shape} in the {place} on a {background} background",
            "colour": colour, "shape": shape, "size": size, "place": place,
            "background": background,
        })
    table_path = out_dir / "stimuli.tsv"
    write_stimuli_table(pd.DataFrame(rows), table_path)
    return table_path
