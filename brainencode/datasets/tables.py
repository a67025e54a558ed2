"""TSV files: read with the columns a loader needs checked (one line naming the file and the
column), written atomically (a table is written under a temporary name first, so that a failed
step never leaves a partial table that looks complete)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainencode.errors import BrainencodeError


def read_tsv(path: str | Path, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """A TSV (all values as text, nothing read as NaN) that has ``columns``; ``what`` says what
    the file is for the error line (e.g. 'the ROI labels')."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise BrainencodeError(f"{path}: not found (expected {what})") from None
    except pd.errors.EmptyDataError:
        raise BrainencodeError(f"{path}: empty file, expected {what} with the columns "
                               f"{', '.join(columns)}") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BrainencodeError(f"{path}: cannot read as a TSV of {what} "
                               f"({str(exc).strip()})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise BrainencodeError(f"{path}: missing column {missing[0]!r} (expected {what} with "
                               f"the columns {', '.join(columns)}; it has "
                               f"{', '.join(table.columns)})")
    return table


def label_names(path: str | Path) -> dict[int, str]:
    """An atlas' label table (BIDS dseg.tsv: ``index`` and ``name``): label value -> name."""
    table = read_tsv(path, ("index", "name"), "an atlas' labels")
    try:
        values = [int(v) for v in table["index"]]
    except ValueError:
        bad = next(v for v in table["index"] if not v.strip().lstrip("-").isdigit())
        raise BrainencodeError(f"{path}: index: expected whole numbers, got {bad!r}") from None
    return dict(zip(values, table["name"], strict=True))


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
