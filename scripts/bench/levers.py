"""CPU speed levers on the default CNN and ViT (digits-shaped batches of 64): channels_last,
bf16 autocast (what trainer.precision=bf16-mixed does), torch.compile, thread count.

Each variant times full training steps (forward, backward, AdamW) after a warm-up; median of
`--repeats` blocks, interleaved; printed as speed-ups over fp32 eager.

    python scripts/bench/levers.py [--repeats 5] [--steps 30]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from biaslab.models.net import build_net

MODELS = {
    "cnn": {"_target_": "biaslab.models.cnn.CNN", "input_shape": [1, 8, 8], "channels": [32, 64]},
    "vit": {
        "_target_": "biaslab.models.vit.ViT",
        "input_shape": [1, 8, 8],
        "patch_size": 4,
        "dim": 64,
        "depth": 4,
        "heads": 4,
        "mlp_ratio": 2.0,
        "pe": {"_target_": "biaslab.models.pe.SinusoidalPE", "_partial_": True},
    },
}
VARIANTS = ("fp32", "channels_last", "bf16 autocast", "torch.compile", "1 thread")


def make_step(model_name: str, variant: str):
    torch.manual_seed(0)
    net = build_net(
        MODELS[model_name],
        {"_target_": "biaslab.models.pooling.MeanPool"},
        {"_target_": "biaslab.models.heads.LinearHead"},
        10,
        [1, 8, 8],
    )
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    if variant == "channels_last":
        net, x = (
            net.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
        )
    forward = torch.compile(net) if variant == "torch.compile" else net
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def step():
        ctx = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if variant == "bf16 autocast"
            else contextlib.nullcontext()
        )
        with ctx:
            loss = torch.nn.functional.cross_entropy(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def block_time(step, steps: int, threads: int) -> float:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    threads = torch.get_num_threads()
    for model_name in MODELS:
        steps = {v: make_step(model_name, v) for v in VARIANTS}
        for v, step in steps.items():  # warm-up (and compile)
            block_time(step, 5, 1 if v == "1 thread" else threads)
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(args.repeats):
            for v, step in steps.items():
                times[v].append(block_time(step, args.steps, 1 if v == "1 thread" else threads))
        torch.set_num_threads(threads)
        base = statistics.median(times["fp32"])
        print(
            f"{model_name}: training step, batch 64, digits-shaped, {threads} threads unless noted"
        )
        for v in VARIANTS:
            t = statistics.median(times[v])
            print(f"  {v:16s} {t * 1e3:7.2f} ms/step   speed-up over fp32 {base / t:5.2f}x")


if __name__ == "__main__":
    main()
