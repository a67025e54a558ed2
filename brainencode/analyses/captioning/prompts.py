"""Versioned prompt files: ``prompts/<name>_v<N>.txt`` (or a user's file of the same form).

A prompt file holds ``[system]``, ``[user]`` and ``[assistant]`` sections (an assistant turn is a
worked example for the model) whose text may contain ``{fields}``; lines starting with ``#``
are comments and are not sent. A new wording is a new file (a new
version), so results and cached answers always name the exact prompt that produced them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from brainencode.errors import BrainencodeError

PROMPT_DIR = Path(__file__).parent / "prompts"
SECTION = re.compile(r"^\[(system|user|assistant)\]\s*$")


@dataclass(frozen=True)
class Prompt:
    """A chat prompt: its name (with version) and (role, template) messages."""

    name: str
    messages: tuple[tuple[str, str], ...]

    def render(self, **fields) -> list[dict]:
        """Chat messages with the fields filled in."""
        try:
            return [{"role": role, "content": text.format(**fields)}
                    for role, text in self.messages]
        except KeyError as exc:
            raise BrainencodeError(f"prompt {self.name}: unknown field {exc}; expected "
                                   f"{sorted(fields)}") from None


def load_prompt(name_or_path: str) -> Prompt:
    """A shipped prompt by name (e.g. 'keywords_v1') or a prompt file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROMPT_DIR / f"{name_or_path}.txt"
    if not path.is_file():
        shipped = sorted(p.stem for p in PROMPT_DIR.glob("*.txt"))
        raise BrainencodeError(f"{path}: prompt file not found; expected a path or one of "
                               f"{shipped}")
    messages: list[tuple[str, list[str]]] = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        match = SECTION.match(line)
        if match:
            messages.append((match.group(1), []))
        elif messages:
            messages[-1][1].append(line)
        elif line.strip():
            raise BrainencodeError(f"{path}: text before the first [system], [user] or "
                                   "[assistant] line")
    if not any(role == "user" for role, _ in messages):
        raise BrainencodeError(f"{path}: expected a [user] section")
    return Prompt(path.stem, tuple((role, "\n".join(lines).strip()) for role, lines in messages))
