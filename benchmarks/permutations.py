"""Permutation nulls and 2V2 as the test folds grow, each against the formulation it replaced,
in one run: the fitted exponent of time against the fold size n.

    python benchmarks/permutations.py            # n up to 10 000 test stimuli
    python benchmarks/permutations.py --small    # n up to 2 000, a quick look

- Encoding p-values (significance.permutation_p): the null as one row gather per held-out
  stimulus (n_perm x n x targets) against the one-hot GEMM it replaced (n_perm x n^2 x targets).
- Decoding nulls (identification.FoldMatrices.permuted_scores): identification, top-k and
  dimension_r read from per-row rank tables, O(n) per permutation after one n^2 log n sort,
  against rescoring every permuted matrix (O(n^2) per permutation); 2V2 on
  decoding.two_vs_two_null_pairs drawn pairs (O(pairs) per permutation) against every pair.
- 2V2 in encoding (metrics.pattern_products, two_vs_two_from_products): the n x n products a
  chunk keeps, with encoding.two_vs_two_stimuli (2000) bounding n.

The peers are run only up to the size where they take about a minute; beyond it the table shows
their time extrapolated with their fitted exponent (marked ~).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from brainencode.config import load_schema
from brainencode.encoders import identification, metrics, significance

N_PERMUTATIONS = 1000
TARGETS = 256


def one_hot_null(zt: torch.Tensor, zp: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """The replaced formulation: row n's prediction meets held-out row order[:, n] through a
    one-hot [n_perm, n] matrix, one GEMM per held-out row."""
    null = torch.zeros(len(order), zt.shape[1])
    for n in range(zt.shape[0]):
        onehot = torch.zeros(len(order), zt.shape[0])
        onehot[torch.arange(len(order)), order[:, n]] = 1.0
        null.addmm_(onehot, zt * zp[n])
    return null


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """Slope of log time against log n over the two largest sizes measured."""
    return float(np.log(seconds[-1] / seconds[-2]) / np.log(sizes[-1] / sizes[-2]))


def table(title: str, sizes: list[int], ours: list[float], peer: list[float],
          peer_name: str) -> None:
    print(f"\n{title}")
    print(f"{'n':>7} {'ours s':>9} {peer_name + ' s':>16} {'peer / ours':>12}")
    measured = len(peer)
    slope = exponent(sizes[:measured], peer) if measured >= 2 else np.nan
    for i, n in enumerate(sizes):
        if i < measured:
            theirs, mark = peer[i], ""
        else:
            theirs, mark = peer[-1] * (n / sizes[measured - 1]) ** slope, "~"
        print(f"{n:>7} {ours[i]:>9.2f} {mark + f'{theirs:.2f}':>16} {theirs / ours[i]:>11.1f}x")
    print(f"exponent of time in n: ours {exponent(sizes, ours):.2f}, {peer_name} {slope:.2f}")


def encoding_nulls(sizes: list[int], peer_limit: int) -> None:
    rng = np.random.default_rng(0)
    ours, peer = [], []
    for n in sizes:
        y = rng.standard_normal((n, TARGETS))
        prediction = 0.1 * y + rng.standard_normal((n, TARGETS))
        ours.append(timed(significance.permutation_p, y, prediction, [np.arange(n)],
                          N_PERMUTATIONS))
        if n <= peer_limit:
            zt, zp = (torch.as_tensor(significance._unit_columns(a)) for a in (y, prediction))
            order = torch.as_tensor(np.stack([rng.permutation(n)
                                              for _ in range(N_PERMUTATIONS)]))
            peer.append(timed(one_hot_null, zt, zp, order))
    table(f"encoding permutation p: one test fold of n stimuli, {TARGETS} targets, "
          f"{N_PERMUTATIONS} permutations", sizes, ours, peer, "one-hot GEMM")


def ranked_null(m: identification.FoldMatrices, orders: np.ndarray) -> None:
    """Ours without 2V2: the rank tables, then one gather per score and permutation."""
    columns = np.arange(len(orders[0]))
    below, rank = identification._row_ranks(m.correlation)
    np.mean(below[orders, columns], axis=1), np.mean(rank[orders, columns] < 5, axis=1)
    m.dimension[orders, columns].sum(1)


def rescored_null(m: identification.FoldMatrices, orders: np.ndarray) -> None:
    """The replaced formulation: every permuted matrix formed and scored."""
    for order in orders:
        correlation = m.correlation[order]
        identification.identification_accuracy(correlation)
        identification.top_k_accuracy(correlation, 1)
        identification.top_k_accuracy(correlation, 5)
        np.trace(m.dimension[order])


def every_pair_null(m: identification.FoldMatrices, orders: np.ndarray) -> None:
    """The replaced 2V2 null: every pair of every permuted matrix."""
    for order in orders:
        metrics.two_vs_two_from_distances(m.distance[order])


def decoding_nulls(sizes: list[int], peer_limit: int, n_permutations: int) -> None:
    rng = np.random.default_rng(1)
    limit = load_schema()["properties"]["decoding"]["properties"]["two_vs_two_null_pairs"][
        "default"]
    ours, peer, pair_null, every_pair, gaps = [], [], [], [], []
    for n in sizes:
        true = rng.standard_normal((n, 64))
        m = identification.FoldMatrices.of(0.15 * true + rng.standard_normal((n, 64)), true)
        orders = np.stack([rng.permutation(n) for _ in range(n_permutations)])
        ours.append(timed(ranked_null, m, orders))
        if n <= peer_limit:
            peer.append(timed(rescored_null, m, orders))
        every_pair.append(timed(every_pair_null, m, orders[:10]) * n_permutations / 10)
        pairs = identification.draw_null_pairs(n, limit, np.random.default_rng(n))
        if pairs is None:  # a fold within the bound keeps every pair
            pair_null.append(every_pair[-1])
            gaps.append(0.0)
            continue
        pair_null.append(timed(m.pair_two_vs_two, orders, pairs))
        gaps.append(m.pair_two_vs_two(np.arange(n)[None], pairs)[0]
                    - metrics.two_vs_two_from_distances(m.distance))
    table(f"decoding nulls without 2V2 (identification, top-1, top-5, dimension_r): one fold "
          f"of n stimuli, {n_permutations} permutations", sizes, ours, peer,
          "rescoring each")
    table(f"2V2's null, same folds: {limit} drawn pairs (decoding.two_vs_two_null_pairs) "
          f"against every pair (timed on 10 permutations, scaled)", sizes, pair_null,
          every_pair, "every pair")
    print("observed 2V2 on the drawn pairs minus on every pair: "
          + ", ".join(f"n={n}: {gap:+.4f}" for n, gap in zip(sizes, gaps, strict=True))
          + f" (sd of a {limit}-pair mean at most {0.5 / np.sqrt(limit):.4f})")


def encoding_two_vs_two(sizes: list[int]) -> None:
    rng = np.random.default_rng(2)
    print(f"\n2V2 in encoding: a chunk of {TARGETS * 8} targets, one test fold of n stimuli, "
          "scored on at most encoding.two_vs_two_stimuli = 2000 of them")
    for n in sizes:
        kept = min(n, 2000)
        y = rng.standard_normal((kept, TARGETS * 8)).astype(np.float32)
        prediction = y + rng.standard_normal(y.shape).astype(np.float32)
        start = time.perf_counter()
        metrics.two_vs_two_from_products(*metrics.pattern_products(y, prediction))
        print(f"  n={n}: {time.perf_counter() - start:.2f} s, products {kept}^2 x 8 bytes = "
              f"{kept * kept * 8 / 1e6:.0f} MB per ROI and fold")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    sizes = [250, 500, 1000, 2000] if args.small else [500, 1000, 2000, 4000, 10000]
    print(f"torch threads: {torch.get_num_threads()}")
    encoding_nulls(sizes, peer_limit=1000 if args.small else 2000)
    decoding_nulls(sizes, peer_limit=2000,
                   n_permutations=100 if args.small else N_PERMUTATIONS)
    encoding_two_vs_two(sizes)


if __name__ == "__main__":
    main()
