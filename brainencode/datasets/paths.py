"""Per-subject file patterns of the dataset section: ``{subject}``, ``{label}`` and more."""

from __future__ import annotations

from pathlib import Path


def subject_path(pattern: str, subject: str, **fields) -> Path:
    """Fill ``{subject}`` (sub-01) and ``{label}`` (01) into a per-subject file pattern."""
    return Path(pattern.format(subject=subject, label=subject.removeprefix("sub-"), **fields))
