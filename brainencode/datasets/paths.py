"""Per-subject file patterns of the dataset section: ``{subject}``, ``{label}`` and more."""

from __future__ import annotations

from pathlib import Path


def subject_path(pattern: str, subject: str, **fields) -> Path:
    """Fill ``{subject}`` (sub-01) and ``{label}`` (01) into a per-subject file pattern; a
    surface file's ``{hemi}``/``{fs_hemi}`` stay for meshes.fill_hemi."""
    fields = {"hemi": "{hemi}", "fs_hemi": "{fs_hemi}"} | fields
    return Path(pattern.format(subject=subject, label=subject.removeprefix("sub-"), **fields))


def experiment_paths(config: dict, subject: str) -> list[tuple[str | None, Path]]:
    """(experiment, file) of one subject: one per ``dataset.experiments`` ({experiment} filled
    into ``path``), or (None, the one file)."""
    experiments = config.get("experiments") or [None]
    return [(e, subject_path(config["path"], subject, **({"experiment": e} if e else {})))
            for e in experiments]

