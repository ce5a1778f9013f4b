"""Attention speed: SDPA vs the naive path for L = 64..1024, and biaslab's ViT vs timm's
VisionTransformer at identical dims (forward + backward), side by side in one run.

    python scripts/bench/attention.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils import benchmark

from biaslab.models.attention import MultiHeadSelfAttention
from biaslab.models.net import build_net


def fwd_bwd(fn, x):
    def step():
        out = fn(x)
        out.float().sum().backward()

    return step


def time_it(step, repeats: int) -> float:
    step()  # warm-up
    timer = benchmark.Timer(
        stmt="step()", globals={"step": step}, num_threads=torch.get_num_threads()
    )
    return (
        timer.blocked_autorange(min_run_time=0.5).median
        if repeats <= 0
        else min(timer.timeit(1).median for _ in range(repeats))
    )


def attention_rows(repeats: int) -> None:
    print("self-attention forward+backward, batch 8, dim 64, 4 heads")
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(64, 4)
    for length in (64, 128, 256, 512, 1024):
        x = torch.randn(8, length, 64, requires_grad=True)
        fast = time_it(fwd_bwd(attn, x), repeats)
        naive = time_it(fwd_bwd(lambda t: attn(t, naive=True), x), repeats)
        print(
            f"  L={length:5d}  sdpa {fast * 1e3:8.2f} ms   naive {naive * 1e3:8.2f} ms   sdpa speed-up {naive / fast:5.2f}x"
        )


def vit_rows(repeats: int, batch: int) -> None:
    import timm

    dims = {"patch": 4, "dim": 192, "depth": 6, "heads": 3, "mlp_ratio": 4.0}
    ours = build_net(
        {
            "_target_": "biaslab.models.vit.ViT",
            "input_shape": [3, 32, 32],
            "patch_size": dims["patch"],
            "dim": dims["dim"],
            "depth": dims["depth"],
            "heads": dims["heads"],
            "mlp_ratio": dims["mlp_ratio"],
            "pe": {"_target_": "biaslab.models.pe.LearnedPE", "_partial_": True, "max_len": 64},
        },
        {"_target_": "biaslab.models.pooling.MeanPool"},
        {"_target_": "biaslab.models.heads.LinearHead"},
        10,
        [3, 32, 32],
    )
    theirs = timm.models.vision_transformer.VisionTransformer(
        img_size=32,
        patch_size=dims["patch"],
        num_classes=10,
        embed_dim=dims["dim"],
        depth=dims["depth"],
        num_heads=dims["heads"],
        mlp_ratio=dims["mlp_ratio"],
        class_token=False,
        global_pool="avg",
    )
    n_ours = sum(p.numel() for p in ours.parameters())
    n_theirs = sum(p.numel() for p in theirs.parameters())
    x = torch.randn(batch, 3, 32, 32)
    steps = {"ours": fwd_bwd(ours, x), "theirs": fwd_bwd(theirs, x)}
    samples: dict[str, list[float]] = {"ours": [], "theirs": []}
    for step in steps.values():
        step()  # warm-up
    for _ in range(3 * repeats):  # interleaved, so machine drift hits both alike
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            samples[name].append(time.perf_counter() - start)
    t_ours, t_theirs = statistics.median(samples["ours"]), statistics.median(samples["theirs"])
    print(
        f"ViT 32x32, patch 4, dim 192, depth 6, 3 heads, batch {batch}, forward+backward, "
        f"median of {3 * repeats} interleaved steps "
        f"(params: biaslab {n_ours:,}, timm {n_theirs:,})"
    )
    print(
        f"  biaslab {batch / t_ours:8.1f} img/s   timm {batch / t_theirs:8.1f} img/s   "
        f"biaslab / timm = {t_theirs / t_ours:5.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7, help="min of this many timings")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    attention_rows(args.repeats)
    vit_rows(args.repeats, args.batch)


if __name__ == "__main__":
    main()
