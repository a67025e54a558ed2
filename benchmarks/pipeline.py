"""The whole DAG's cost law: each stage's wall time, CPU time and peak memory as the stimuli,
the targets, the layers and the models grow, the fitted exponents, and a projection to NSD.

    python benchmarks/pipeline.py            # every axis (about 15 minutes on 2 cores)
    python benchmarks/pipeline.py --small    # two sizes per axis, smaller (about 4 minutes)
    python benchmarks/pipeline.py --axes targets  # one axis only (no projection)

Each point is a real ``snakemake --cores C`` run into a fresh folder (a fresh features cache):
a ``format: table`` dataset of N text stimuli (grouped by 10) and N x T random responses, M
untrained MiniLM-size BERTs (384 features, seeds 0..M-1) with L layer outputs each, encoded
with the default settings (5 x 5 nested CV, 20 alphas, targets_per_chunk 20000), then the
figures and the report. One axis moves at a time from the base point. Per stage (a rule; the
encode chunk jobs summed) the Snakemake benchmark files give the jobs' summed wall time and
CPU time and their largest peak RSS.

Fitted exponents: the least-squares slope of log(time) and log(peak RSS) against log(size)
over the axis, and the slope over its two largest sizes (the asymptotic one: fixed start-up
costs flatten the small sizes). The NSD projection starts from each stage's longest measured
point and carries every axis to NSD's size with its two-largest-sizes exponent: it assumes the
axes act independently (a product law) and the exponents hold beyond the range measured; where
start-up still weighs at the largest sizes, the exponents and so the projection are too low.
The encoding stage is projected a second way, from its floating-point work (the nested CV's
per-fold SVD method, benchmarks/ridge.py's count) divided by the float32 matmul throughput
measured in this run, at the efficiency the largest measured run reached; on a GPU, the same
with the GPU's measured throughput.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import job_benchmarks, snakemake  # noqa: E402  (the sibling load benchmark)
from ridge import matmul_gflops, ridge_flops  # noqa: E402

BASE = {"stimuli": 500, "targets": 5000, "layers": 4, "models": 1}
AXES = {"stimuli": [500, 1000, 2000, 4000, 8000], "targets": [5000, 20000, 50000, 200000],
        "layers": [2, 4, 8], "models": [1, 2, 4]}
SMALL_AXES = {"stimuli": [300, 1200], "targets": [2000, 20000], "layers": [2, 4],
              "models": [1, 2]}
SMALL_BASE = {"stimuli": 300, "targets": 2000, "layers": 2, "models": 1}
NSD = {"stimuli": 30000, "targets": 200000, "layers": 13, "models": 4}
"""NSD per subject: about 30 000 trials (10 000 images x 3), 200 000 cortical voxels (1.8 mm),
a 12-block transformer's 13 layer outputs, four models; eight subjects."""
NSD_SUBJECTS = 8
FEATURES = 384
OUTER, INNER, ALPHAS = 5, 5, 20


def point_config(root: Path, size: dict) -> Path:
    """A table dataset of ``size`` in ``root``; returns its config file."""
    n, targets = size["stimuli"], size["targets"]
    words = ["red", "blue", "circle", "square", "dog", "house", "river", "song", "light", "stone"]
    root.mkdir(parents=True)
    pd.DataFrame({"stimulus_id": [f"stim-{i:05d}" for i in range(n)], "modality": "text",
                  "text": [f"a {words[i % 10]} {words[(i // 10) % 10]} number {i}"
                           for i in range(n)],
                  "group": [f"g{i // 10}" for i in range(n)]}
                 ).to_csv(root / "stimuli.tsv", sep="\t", index=False)
    rng = np.random.default_rng(0)
    np.save(root / "responses.npy", rng.standard_normal((n, targets), dtype=np.float32))
    models = {f"bert{m}": {"family": "minilm", "trained": False, "seed": m,
                           "config": {"num_hidden_layers": size["layers"] - 1}}
              for m in range(size["models"])}
    config = {"results": str(root / "results"),
              "dataset": {"format": "table", "subjects": ["sub-01"],
                          "stimuli_table": str(root / "stimuli.tsv"),
                          "path": str(root / "responses.npy")},
              "models": models}
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def stage_costs(results: Path) -> pd.DataFrame:
    """Per rule: jobs, summed wall and CPU seconds, largest peak RSS (MB)."""
    return job_benchmarks(results).groupby("rule").agg(
        jobs=("s", "size"), s=("s", "sum"), cpu_s=("cpu_s", "sum"),
        rss_mb=("max_rss_mb", "max")).rename_axis("stage")


def run_point(root: Path, size: dict, cores: int) -> pd.DataFrame:
    config = point_config(root, size)
    wall, _ = snakemake(config, cores)
    costs = stage_costs(root / "results")
    costs.loc["(whole run, wall)"] = [np.nan, wall, np.nan, np.nan]
    label = ", ".join(f"{k} {v}" for k, v in size.items())
    print(f"\n{label}: {wall:.0f} s wall\n{costs.to_string(float_format=lambda v: f'{v:.1f}')}",
          flush=True)
    return costs


def slopes(sizes: list[int], values: list[float]) -> tuple[float, float]:
    """(least-squares slope of log value on log size, slope over the two largest sizes)."""
    x, y = np.log(sizes), np.log(np.maximum(values, 1e-3))
    return float(np.polyfit(x, y, 1)[0]), float((y[-1] - y[-2]) / (x[-1] - x[-2]))


def projected(axes: dict, runs: dict, base: dict, stage: str) -> float:
    """The stage's time at NSD: from its longest measured point (where start-up weighs least),
    each axis carried to NSD's size with that axis' two-largest-sizes exponent."""
    points = {axis: [runs[key_of(base | {axis: v})] for v in sizes]
              for axis, sizes in axes.items()}
    axis, index = max(((a, i) for a, p in points.items() for i in range(len(p))),
                      key=lambda ai: points[ai[0]][ai[1]].loc[stage, "s"])
    anchor = base | {axis: axes[axis][index]}
    seconds = points[axis][index].loc[stage, "s"]
    for name, sizes in axes.items():
        tail = slopes(sizes, [p.loc[stage, "s"] for p in points[name]])[1]
        seconds *= (NSD[name] / anchor[name]) ** tail
    return seconds


def key_of(size: dict) -> tuple:
    return tuple(size.values())


def encoding_flops(size: dict) -> float:
    """The nested CV's floating-point work: per outer fold one RidgeCV (ridge_flops: inner
    folds and refit) on the training rows and a prediction of the test rows, per layer and
    model."""
    n_test = size["stimuli"] // OUTER
    per_fold = (ridge_flops(size["stimuli"] - n_test, FEATURES, size["targets"], ALPHAS)
                + 2.0 * n_test * FEATURES * size["targets"])
    return OUTER * per_fold * size["layers"] * size["models"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--root", type=Path, default=Path("/tmp/brainencode-pipeline"))
    parser.add_argument("--axes", nargs="+", choices=list(AXES), default=list(AXES),
                        help="the axes to move (the NSD projection needs them all)")
    args = parser.parse_args()
    if args.root.exists():
        sys.exit(f"{args.root} exists: remove it or pass another --root")
    axes, base = (SMALL_AXES, SMALL_BASE) if args.small else (AXES, BASE)
    axes = {axis: axes[axis] for axis in args.axes}
    gflops = matmul_gflops("cpu")
    print(f"{args.cores} cores, float32 matmul {gflops:.0f} GFLOP/s; base point {base}")
    runs: dict[tuple, pd.DataFrame] = {}
    for axis, sizes in axes.items():
        for value in sizes:
            size = base | {axis: value}
            key = key_of(size)
            if key not in runs:
                runs[key] = run_point(args.root / "_".join(map(str, key)), size, args.cores)

    base_costs = runs[key_of(base)]
    stages = [s for s in base_costs.index if not s.startswith("(")]
    print("\nexponents of time (summed job seconds) and peak RSS, "
          "least squares over the axis / over its two largest sizes")
    rows = []
    for axis, sizes in axes.items():
        points = [runs[key_of(base | {axis: v})] for v in sizes]
        for stage in stages:
            times = [p.loc[stage, "s"] if stage in p.index else np.nan for p in points]
            rss = [p.loc[stage, "rss_mb"] if stage in p.index else np.nan for p in points]
            if np.isnan(times).any():
                continue
            rows.append({"axis": axis, "stage": stage,
                         "time": "{:.2f} / {:.2f}".format(*slopes(sizes, times)),
                         "peak RSS": "{:.2f} / {:.2f}".format(*slopes(sizes, rss)),
                         "s": " ".join(f"{t:.0f}" for t in times),
                         "MB": " ".join(f"{m:.0f}" for m in rss)})
    print(pd.DataFrame(rows).to_string(index=False))
    if len(axes) < len(AXES):
        return

    print(f"\nNSD projection per subject ({NSD}), {args.cores} cores, jobs summed:")
    total = 0.0
    for stage in stages:
        seconds = projected(axes, runs, base, stage)
        total += seconds
        print(f"  {stage:<16} {seconds / 3600:9.2f} h")
    print(f"  {'all stages':<16} {total / 3600:9.2f} h per subject; {NSD_SUBJECTS} subjects "
          f"{NSD_SUBJECTS * total / 3600 / args.cores:.0f} h wall if the jobs fill "
          f"{args.cores} cores")

    largest = max((dict(zip(base, key, strict=True)) for key in runs), key=encoding_flops)
    measured = runs[key_of(largest)].loc["encode", "s"]
    efficiency = encoding_flops(largest) / 1e9 / gflops / measured
    nsd_bound = encoding_flops(NSD) / 1e9
    print(f"\nencoding from its floating-point work: {encoding_flops(largest) / 1e12:.2f} TFLOP "
          f"at {largest} took {measured:.0f} s of jobs, {efficiency:.0%} of the matmul bound; "
          f"NSD: {nsd_bound / 1e3:.0f} TFLOP per subject -> "
          f"{nsd_bound / gflops / efficiency / 3600:.1f} h of jobs here at that efficiency")
    import torch

    if torch.cuda.is_available():
        gpu = matmul_gflops("cuda")
        print(f"one GPU ({torch.cuda.get_device_name()}): {gpu:.0f} GFLOP/s -> "
              f"{nsd_bound / gpu / efficiency / 60:.1f} min per subject at the same efficiency")
    else:
        print("no GPU here: run this benchmark where one is to measure its matmul throughput")


if __name__ == "__main__":
    main()
