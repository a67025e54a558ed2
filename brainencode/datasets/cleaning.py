"""What to do with NaN or constant targets: refuse them (default) or leave them out."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from brainencode.datasets.checks import invalid_columns, require, target_problems
from brainencode.datasets.responses import TARGET_FIELDS, Responses
from brainencode.errors import BrainencodeError

PER_TARGET = ("roi", *TARGET_FIELDS)


def drop_or_refuse_invalid(responses: Responses, policy: str, source: str) -> Responses:
    """``error``: one line naming the problem; ``drop``: keep the valid targets only."""
    if policy == "error":
        require(target_problems(responses.data, source))
        return responses
    invalid = invalid_columns(responses.data)
    if responses.repeats is not None:
        invalid |= np.any([invalid_columns(r) for r in responses.repeats], axis=0)
    if invalid.all():
        raise BrainencodeError(f"{source}: data: expected some finite, varying targets; all "
                               f"{len(invalid)} are NaN or constant")
    keep = ~invalid
    changes = {key: getattr(responses, key)[keep] for key in PER_TARGET
               if getattr(responses, key) is not None}
    changes["data"] = responses.data[:, keep]
    if responses.repeats is not None:
        changes["repeats"] = responses.repeats[:, :, keep]
    attrs = responses.attrs | {"n_invalid_dropped": int(invalid.sum())}
    return replace(responses, attrs=attrs, **changes)
