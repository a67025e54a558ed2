"""The model zoo: every family by name, what it reads, its pooling, where its weights come from.

Adding a family is one module that defines ``FAMILIES`` (see CONTRIBUTING.md) and one line in
``MODULES`` below.
"""

from __future__ import annotations

from brainencode.errors import BrainencodeError
from brainencode.features import (
    families_multimodal,
    families_suma,
    families_text,
    families_vision,
)
from brainencode.features.building import Family

MODULES = (families_vision, families_text, families_multimodal, families_suma)
FAMILIES: dict[str, Family] = {f.name: f for module in MODULES for f in module.FAMILIES}


def get_family(name: str) -> Family:
    """Look up a family by name, with the list of known ones in the error."""
    if name not in FAMILIES:
        raise BrainencodeError(f"models: family: expected one of {sorted(FAMILIES)}, "
                               f"got {name!r}")
    return FAMILIES[name]


def zoo_table() -> str:
    """The zoo as a text table, for `brainencode features list`."""
    rows = [("family", "reads", "pooling", "trained weights from", "layers")]
    rows += [(f.name, f.reads, f.default_pooling, f.trained_source, f.layers)
             for f in FAMILIES.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
             for r in rows]
    lines += ["", *(f"{f.name}: {f.description}" for f in FAMILIES.values())]
    return "\n".join(lines)


def print_zoo() -> None:
    """Print the model families that a models entry can name."""
    print(zoo_table())
