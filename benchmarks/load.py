"""Load: the real DAG with many subjects, and with many stimuli, on this machine's cores; each
job's wall time and peak memory against the memory it asked for (its mem_mb).

    python benchmarks/load.py subjects --n 20                  # the demo with 20 volume subjects
    python benchmarks/load.py stimuli --n 50000 --targets 1000  # a table dataset of text stimuli

``subjects``: the demo config with N simulated volume subjects of the demo's size (200 stimuli,
2 repeats, 29 398 voxels; the surface and sEEG subjects, captioning, decoding and the shared
space left out), through encoding, figures and the report. ``stimuli``: a ``format: table``
dataset of N text stimuli (grouped by 10) and a responses .npy of N x targets (a third of the
targets carry MiniLM's layer 4, after a first features run, the rest noise), encoded with the
trained MiniLM. Each runs ``snakemake --cores C`` into a fresh folder under ``--root``; then every
job's benchmark file (max_rss, s) is matched with the mem_mb Snakemake gave the job (its log),
and per rule the jobs, the summed and largest wall time, the largest peak RSS and the largest
ratio of peak RSS to mem_mb are printed (a ratio above 1 is a job that outgrew its request).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent


def subjects_config(root: Path, n: int) -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for section in ("captioning", "decoding", "shared_space"):
        config.pop(section, None)
    config["dataset"]["subjects"] = [f"sub-{i:02d}" for i in range(1, n + 1)]
    config["demo"]["surface"]["subjects"] = []
    config["demo"]["seeg"]["subjects"] = []
    return config | {"results": str(root / "results")}


def stimuli_config(root: Path, n: int, targets: int) -> dict:
    """Text stimuli 'item i of group g' and responses planted on MiniLM layer 4 (extracted by
    the pipeline's own features step first, so the run reuses them from the cache)."""
    ids = [f"stim-{i:05d}" for i in range(n)]
    words = ["red", "blue", "circle", "square", "dog", "house", "river", "song", "light", "stone"]
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"stimulus_id": ids, "modality": "text",
                          "text": [f"a {words[i % 10]} {words[(i // 10) % 10]} number {i}"
                                   for i in range(n)],
                          "group": [f"g{i // 10}" for i in range(n)]})
    root.mkdir(parents=True, exist_ok=True)
    table.to_csv(root / "stimuli.tsv", sep="\t", index=False)
    np.save(root / "responses.npy", rng.standard_normal((n, targets), dtype=np.float32))
    return {"results": str(root / "results"),
            "dataset": {"format": "table", "subjects": ["sub-01"],
                        "stimuli_table": str(root / "stimuli.tsv"),
                        "path": str(root / "responses.npy")},
            "models": {"minilm": {"family": "minilm", "trained": True}}}


def plant(root: Path, targets: int) -> None:
    """A third of the targets become MiniLM layer 4 read out by random weights, plus noise."""
    features = np.load(root / "results" / "features" / "main" / "minilm" / "layer04.npy")
    rng = np.random.default_rng(1)
    data = np.load(root / "responses.npy")
    driven = targets // 3
    signal = features @ rng.standard_normal((features.shape[1], driven), dtype=np.float32)
    signal /= signal.std(0)
    data[:, :driven] += signal
    np.save(root / "responses.npy", data)


def snakemake(config: Path, cores: int, *targets: str) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores),
                             "--configfile", str(config), "--", *targets], cwd=REPO,
                            capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:"
                                 f"{os.environ['PATH']}", "HF_HUB_OFFLINE": "1",
                                 "TRANSFORMERS_OFFLINE": "1"})
    if result.returncode != 0:
        sys.exit(f"snakemake failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start, result.stderr


def job_memory(log: str) -> dict[str, int]:
    """benchmark file -> mem_mb, from the job blocks Snakemake prints."""
    asked = {}
    for block in log.split("\n\n"):
        bench = re.search(r"^\s+benchmark: (\S+)$", block, re.MULTILINE)
        mem = re.search(r"resources: .*?\bmem_mb=(\d+)", block)
        if bench and mem:
            asked[bench[1]] = int(mem[1])
    return asked


def job_benchmarks(results: Path) -> pd.DataFrame:
    """One row per benchmarked job: its rule (the benchmark folder), file, wall and CPU
    seconds and peak RSS (MB), from the last line of its Snakemake benchmark file."""
    rows = []
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        bench = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append({"rule": path.relative_to(results / "benchmarks").parts[0].removesuffix(".tsv"),
                     "path": path, "s": bench["s"], "cpu_s": bench["cpu_time"],
                     "max_rss_mb": bench["max_rss"]})
    return pd.DataFrame(rows)


def per_rule(results: Path, asked: dict[str, int]) -> pd.DataFrame:
    table = job_benchmarks(results)
    table["mem_mb"] = np.array([asked.get(str(path)) or asked.get(os.path.relpath(path, REPO))
                                for path in table["path"]], dtype=float)  # None: NaN
    table["ratio"] = table["max_rss_mb"] / table["mem_mb"]
    return table.groupby("rule").agg(jobs=("s", "size"), s_sum=("s", "sum"), s_max=("s", "max"),
                                     max_rss_mb=("max_rss_mb", "max"),
                                     mem_mb_min=("mem_mb", "min"), worst_ratio=("ratio", "max"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["subjects", "stimuli"])
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--root", type=Path, default=Path("/tmp/brainencode-load"))
    args = parser.parse_args()
    root = args.root / args.kind
    if root.exists():
        sys.exit(f"{root} exists: remove it or pass another --root")
    root.mkdir(parents=True)
    config_path = root / "config.yaml"
    seconds, first_log = 0.0, ""
    if args.kind == "subjects":
        config = subjects_config(root, args.n or 20)
        label = f"{len(config['dataset']['subjects'])} demo-size volume subjects"
    else:
        n = args.n or 50000
        config = stimuli_config(root, n, args.targets)
        label = f"{n} stimuli x {args.targets} targets"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        seconds, first_log = snakemake(config_path, args.cores, str(root / "results" / "features" /
                                                            "main" / "minilm"))
        plant(root, args.targets)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    total, log = snakemake(config_path, args.cores)
    table = per_rule(root / "results", job_memory(first_log + "\n\n" + log))
    print(f"{label}, {args.cores} cores: {seconds + total:.0f} s wall in all "
          f"({seconds:.0f} s features first)" if seconds else
          f"{label}, {args.cores} cores: {total:.0f} s wall")
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    over = table[table["worst_ratio"] > 1]
    print("every job within its mem_mb" if over.empty else
          f"jobs above their mem_mb: {', '.join(over.index)}")


if __name__ == "__main__":
    main()
