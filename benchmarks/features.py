"""Feature extraction: all layers in one pass against a plain forward pass and a naive loop.

    python benchmarks/features.py                      # ViT-Base (untrained), CPU
    python benchmarks/features.py --device cuda --images 1024

Prints images/s for (1) one plain forward pass that returns only the last layer, (2) ours: every
layer pooled from one pass (the pipeline's extractor), (3) a naive loop that calls the model once
per layer and keeps that layer; the cost of ours relative to the plain pass (target: at most
1.2x), and peak memory (CUDA: max allocated per method; CPU: the process's peak RSS).
All three get the same batch of normalized pixels (the forward cost does not depend on their
values), so image decoding and preprocessing, the same for all, are left out of the timings.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from brainencode.features.extract import precision_context
from brainencode.features.pooling import pool_tokens
from brainencode.features.registry import get_family


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="vit", choices=["vit", "deit", "beit", "clip-vision"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    device = torch.device(args.device)
    spec = {"family": args.family, "trained": False, "seed": 0, "config": {}, "pooling": "mean"}
    extractor = get_family(args.family).build(spec)
    model = extractor.model.to(device).eval()
    autocast, precision = precision_context("auto", device)
    pixels = torch.randn(args.batch_size, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    pixels = pixels.to(device)
    n_batches = max(1, args.images // args.batch_size)

    def plain() -> None:
        model(pixel_values=pixels).last_hidden_state[:, 1:].mean(1).float().cpu()

    def ours() -> None:
        hidden = model(pixel_values=pixels, output_hidden_states=True).hidden_states
        [pool_tokens(h, None, "mean", 1).float().cpu() for h in hidden]

    def naive() -> None:
        for layer in range(len(extractor.layers)):
            hidden = model(pixel_values=pixels, output_hidden_states=True).hidden_states[layer]
            pool_tokens(hidden, None, "mean", 1).float().cpu()

    print(f"{args.family} (ViT-Base size, untrained), {device}, {precision}, batch "
          f"{args.batch_size}, {n_batches * args.batch_size} images, "
          f"{len(extractor.layers)} layers")
    results = {}
    for name, method in (("plain forward (last layer only)", plain),
                         ("ours (all layers, one pass)", ours),
                         ("naive (one call per layer)", naive)):
        autocast, _ = precision_context("auto", device)  # a fresh context per method
        rate, peak = measure(method, n_batches, args.batch_size, device, autocast)
        results[name] = rate
        print(f"  {name:34s} {rate:8.1f} images/s   peak {peak}")
    plain_rate, ours_rate, naive_rate = results.values()
    print(f"ours costs {plain_rate / ours_rate:.2f}x one plain forward pass (target <= 1.2x) "
          f"and runs {ours_rate / naive_rate:.1f}x faster than the naive loop")


def measure(method, n_batches: int, batch_size: int, device: torch.device,
            autocast) -> tuple[float, str]:
    with torch.inference_mode(), autocast:
        method()  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(n_batches):
            method()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB GPU"
    else:
        peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB RSS"
    return n_batches * batch_size / seconds, peak


if __name__ == "__main__":
    main()
