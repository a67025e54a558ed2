"""The CLI is the only thing rules call: every rule runs one verb, with options its function
declares; the package keeps its floors (import-linter)."""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainencode.cli import VERBS, main, resolve, verb_parser
from tests.conftest import REPO


def _rules() -> dict[str, str]:
    """Rule name -> its shell command, from every rule file."""
    rules = {}
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for name, body in re.findall(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)",
                                     smk.read_text(), re.MULTILINE | re.DOTALL):
            if "shell:" in body:
                rules[name] = "".join(re.findall(r'"([^"]*)"', body.split("shell:")[1]))
    return rules


def test_every_rule_calls_one_verb_with_options_its_function_declares():
    rules = _rules()
    assert {"features", "encode_chunk", "responses", "report"} <= set(rules)
    for name, shell in rules.items():
        called = [v for v in VERBS if re.search(rf"brainencode {v}( |$)", shell)]
        assert len(called) >= 1, (name, shell)
        verb = max(called, key=len)  # "features extract" over "features"
        function = resolve(verb)
        declared = {p.name.replace("_", "-") for p in inspect.signature(function).parameters
                    .values()}
        passed = set(re.findall(r"--([a-z][a-z-]*)", shell))
        assert passed <= declared, (name, passed - declared)
        required = {p.name.replace("_", "-") for p in inspect.signature(function).parameters
                    .values() if p.default is p.empty and p.kind is p.KEYWORD_ONLY}
        assert required <= passed, (name, required - passed)


def test_verb_options_come_from_the_signature(tmp_path):
    parser = verb_parser("encode", resolve("encode"))
    args = parser.parse_args(["--responses", "r.h5", "--features", "f", "--model", "m",
                              "--out-dir", "o", "--encoding", '{"seed": 1}', "--chunk", "2"])
    assert args.responses == Path("r.h5") and args.encoding == {"seed": 1} and args.chunk == 2
    assert args.stimuli is None and args.n_chunks == 1
    with pytest.raises(SystemExit):
        parser.parse_args(["--responses", "r.h5"])  # the required options are missing
    with pytest.raises(SystemExit):
        verb_parser("features extract", resolve("features extract")).parse_args(
            ["--stimuli", "s", "--spec", "{}", "--out-dir", "o", "--device", "tpu"])


def test_help_lists_every_verb_and_an_unknown_verb_is_one_line(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {verb} " in out for verb in VERBS)
    assert main(["encodee"]) == 2
    assert capsys.readouterr().err.startswith("brainencode: error: unknown verb 'encodee'")


def test_ruff_is_clean(env):
    result = subprocess.run(["ruff", "check", "."], cwd=REPO, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout


def test_import_contracts_are_kept(env):
    """The floors, no cycles between sibling modules, no torch where features are only read."""
    result = subprocess.run(["lint-imports"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 kept, 0 broken" in result.stdout


# the verbs that fit, extract or embed; every other verb must start without torch (about 1.5 s
# of each job's start-up; benchmarks/startup.py measures it)
TORCH_VERBS = {"features list", "features extract", "encode", "alignment language",
               "alignment vision", "captioning select", "captioning caption-images",
               "captioning describe", "captioning evaluate", "decode", "classify",
               "shared-space"}


def test_verbs_that_only_read_and_write_tables_do_not_import_torch(env):
    """In one fresh interpreter, each torch-free verb in turn: the first that imports torch is
    named."""
    verbs = [verb for verb in VERBS if verb not in TORCH_VERBS]
    probe = ("import sys, brainencode.cli as c\n"
             f"for verb in {verbs!r}:\n"
             "    c.resolve(verb)\n"
             "    if 'torch' in sys.modules:\n"
             "        sys.exit(f'{verb} imports torch')\n")
    result = subprocess.run(["python", "-c", probe], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("writer", ["tsv", "hdf5"])
def test_a_failed_write_is_one_line_with_errno_and_path(env, tmp_path, writer):
    """A real write fault (the kernel's file-size limit: EFBIG, as a full disk gives ENOSPC)
    is one line naming the file and the errno, exit 2, and no partial file is left: a TSV, and
    an HDF5 file, whose library would print a traceback per handle it frees and crash at exit."""
    import json
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    out = tmp_path / "out" / ("scores.tsv" if writer == "tsv" else "sub-01.h5")
    if writer == "tsv":
        big = pd.concat([pd.read_csv(REPO / "tests" / "recorded" / "scores_sub-01.tsv",
                                     sep="\t")] * 4)
        big.to_csv(tmp_path / "scores.tsv", sep="\t", index=False)
        command = ["gather-scores", "--scores", str(tmp_path / "scores.tsv"), "--out", str(out)]
    else:
        ids = [f"s{i}" for i in range(50)]
        pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids}).to_csv(
            tmp_path / "stimuli.tsv", sep="\t", index=False)
        np.save(tmp_path / "data.npy", np.random.default_rng(0).normal(size=(50, 2000)))
        dataset = {"format": "table", "subjects": ["sub-01"], "path": str(tmp_path / "data.npy"),
                   "stimuli_table": str(tmp_path / "stimuli.tsv")}
        command = ["responses", "--dataset", json.dumps(dataset), "--subject", "sub-01",
                   "--stimuli", str(tmp_path / "stimuli.tsv"), "--out", str(out)]
    before = sorted(tmp_path.rglob("*"))
    result = subprocess.run(["brainencode", *command], env=env, capture_output=True, text=True,
                            preexec_fn=limit)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"brainencode {command[0]}: error: {out}: EFBIG: File too large"]
    assert sorted(tmp_path.rglob("*")) == before
