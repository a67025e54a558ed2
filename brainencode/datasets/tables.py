"""TSV files written atomically: a table written under a temporary name first, so that a failed
step never leaves a partial table that looks complete."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_tsv(table: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    table.to_csv(tmp, sep="\t", index=False)
    tmp.replace(path)
