"""TSV files written atomically: a table written under a temporary name first, so that a failed
step never leaves a partial table that looks complete."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_tsv(table: pd.DataFrame, path: str | Path) -> None:
    """Write under ``<name>.partial``, then rename; a failed write (a full disk, a file-size
    limit) removes the partial file and is raised naming ``path`` (pandas names no file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    try:
        table.to_csv(tmp, sep="\t", index=False)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    tmp.replace(path)
