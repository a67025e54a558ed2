"""The CLI is the only thing rules call: every rule runs one verb that `--help` lists."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO


def _help_verbs(env: dict) -> set[str]:
    result = subprocess.run(["brainencode", "--help"], env=env, capture_output=True, text=True)
    assert result.returncode == 0
    return set(re.findall(r"^    ([a-z][a-z-]+)", result.stdout, re.MULTILINE))


def test_every_rule_calls_one_listed_verb(env):
    verbs = _help_verbs(env)
    rules = {}
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for name, body in re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", smk.read_text(),
                                     re.MULTILINE | re.DOTALL):
            rules[name] = re.findall(r"brainencode ([a-z-]+)", body.split("shell:")[1])
    assert rules, "no rules found"
    for name, called in rules.items():
        assert len(called) == 1 and called[0] in verbs, (name, called)
    assert {"features", "encode", "report"} <= verbs


def test_ruff_is_clean(env):
    result = subprocess.run(["ruff", "check", "."], cwd=REPO, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout
