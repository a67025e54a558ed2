"""What to do with NaN or constant targets: refuse them (default) or leave them out."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from brainencode.datasets.checks import column_flags, flag_problems, require
from brainencode.datasets.responses import TARGET_FIELDS, Responses, TargetBlocks, target_blocks
from brainencode.errors import BrainencodeError

PER_TARGET = ("roi", *TARGET_FIELDS)


def drop_or_refuse_invalid(responses: Responses, policy: str, source: str) -> Responses:
    """``error``: one line naming the problem; ``drop``: keep the valid targets only (valid in
    the mean and in every repeat). Read a block of targets at a time, so that block-read data
    (TargetBlocks) are checked without being held: they are read twice, once here and once
    when written."""
    nonfinite, constant, repeats_invalid = [np.zeros(0, bool)], [np.zeros(0, bool)], []
    for data, repeats in target_blocks(responses):
        flags = column_flags(data)
        nonfinite.append(flags[0])
        constant.append(flags[1])
        if repeats is not None and policy == "drop":
            repeats_invalid.append(np.any([np.logical_or(*column_flags(r)) for r in repeats],
                                          axis=0))
    nonfinite, constant = np.concatenate(nonfinite), np.concatenate(constant)
    if policy == "error":
        require(flag_problems(nonfinite, constant, source))
        return responses
    invalid = nonfinite | constant
    if repeats_invalid:
        invalid |= np.concatenate(repeats_invalid)
    if invalid.all():
        raise BrainencodeError(f"{source}: data: expected some finite, varying targets; all "
                               f"{len(invalid)} are NaN or constant")
    keep = ~invalid
    changes = {key: getattr(responses, key)[keep] for key in PER_TARGET
               if getattr(responses, key) is not None}
    if isinstance(responses.data, TargetBlocks):
        changes["data"] = replace(responses.data, keep=keep)
    else:
        changes["data"] = responses.data[:, keep]
        if responses.repeats is not None:
            changes["repeats"] = responses.repeats[:, :, keep]
    attrs = responses.attrs | {"n_invalid_dropped": int(invalid.sum())}
    return replace(responses, attrs=attrs, **changes)
