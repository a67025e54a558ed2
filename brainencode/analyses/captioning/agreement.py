"""How well one captioner's captions agree with reference captions of the same images.

Each image's candidate caption and its reference captions (mean of their unit-norm sentence
embeddings) are compared by cosine similarity; the agreement is how often the candidate
retrieves its own image's references among all images' (top-1 and top-5 accuracy, median rank;
chance is 1 / n_images), and the mean similarity to its own references against the mean to
other images' references. Used to compare the ImageNet-label tag captions with COCO's human
captions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from brainencode.analyses.captioning.describers import caption_embeddings
from brainencode.errors import BrainencodeError


def caption_agreement(candidate: dict[str, list[str]], reference: dict[str, list[str]],
                      embed: Callable[[list[str]], np.ndarray]) -> dict[str, float]:
    """Retrieval accuracy and similarities of ``candidate`` against ``reference`` captions
    (stimulus_id -> captions), over the images both have."""
    ids = [sid for sid in candidate if reference.get(sid)]
    if len(ids) < 2:
        raise BrainencodeError(f"caption agreement: expected at least two images with both "
                               f"captions, got {len(ids)}")
    similarity = caption_embeddings(embed, candidate, ids) @ \
        caption_embeddings(embed, reference, ids).T
    own = np.diag(similarity)
    rank = (similarity > own[:, None]).sum(1)  # 0: its own image's references are the nearest
    others = (similarity.sum() - own.sum()) / (similarity.size - len(ids))
    return {"n_images": len(ids), "top1": float((rank == 0).mean()),
            "top5": float((rank < 5).mean()), "median_rank": float(np.median(rank) + 1),
            "chance_top1": 1 / len(ids), "own_similarity": float(own.mean()),
            "other_similarity": float(others)}
