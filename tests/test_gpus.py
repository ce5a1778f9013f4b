"""The GPU pool, on a machine without GPUs: the pool's view of the devices is injected
(BIASLAB_GPUS=N), processes stand for sweep jobs."""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import pytest

from biaslab.errors import ConfigError
from biaslab.run import gpus


def _job(folder, devices, per_gpu, hold_s, out, ready, count=4):
    os.environ["BIASLAB_GPUS"] = str(count)
    ready.wait(timeout=60)  # every job asks at once, however slowly the processes started
    start = time.monotonic()
    ids = gpus.acquire(devices, folder, per_gpu, poll_s=0.02)
    got = time.monotonic()
    time.sleep(hold_s)
    out.put((ids, got, time.monotonic(), os.environ["CUDA_VISIBLE_DEVICES"], got - start))
    gpus.release()


def _run_jobs(tmp_path, n, devices=1, per_gpu=1, hold_s=0.4):
    ctx = mp.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Barrier(n)
    procs = [
        ctx.Process(target=_job, args=(tmp_path, devices, per_gpu, hold_s, out, ready))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return results


def _max_at_once(results, gpu):
    spans = [(a, b) for ids, a, b, _, _ in results if gpu in ids]
    return max(sum(a <= t < b for a, b in spans) for t, _ in spans) if spans else 0


def test_six_jobs_on_four_gpus_never_share_one_and_the_extra_two_wait(tmp_path):
    results = _run_jobs(tmp_path, 6)
    assert all(len(ids) == 1 and env == ids[0] for ids, _, _, env, _ in results)
    assert all(_max_at_once(results, str(g)) <= 1 for g in range(4))
    assert sum(waited > 0.2 for *_, waited in results) >= 2  # two queued for a free GPU


def test_two_jobs_per_gpu_share_a_card_when_asked(tmp_path):
    results = _run_jobs(tmp_path, 8, per_gpu=2)
    assert max(_max_at_once(results, str(g)) for g in range(4)) == 2
    assert all(waited < 0.3 for *_, waited in results)  # 8 slots: nobody waits


def test_a_ddp_job_gets_distinct_gpus_and_a_request_beyond_the_node_is_refused(
    tmp_path, monkeypatch
):
    results = _run_jobs(tmp_path, 2, devices=2)
    assert all(len(set(ids)) == 2 for ids, *_ in results)
    assert not set(results[0][0]) & set(results[1][0])  # both ran at once, on 4 distinct GPUs
    monkeypatch.setenv("BIASLAB_GPUS", "4")
    with pytest.raises(ConfigError, match=r"^trainer.devices=5 but this node has 4 GPU"):
        gpus.acquire(5, tmp_path)


def test_a_killed_job_gives_its_gpu_back(tmp_path, monkeypatch):
    code = (
        "import os, time; os.environ['BIASLAB_GPUS'] = '1';"
        "from pathlib import Path; from biaslab.run import gpus;"
        f"gpus.acquire(1, Path({str(tmp_path)!r})); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    monkeypatch.setenv("BIASLAB_GPUS", "1")
    ctx = mp.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Barrier(1)
    waiter = ctx.Process(target=_job, args=(tmp_path, 1, 1, 0.0, out, ready, 1))
    waiter.start()
    time.sleep(1.0)
    assert out.empty()  # the only GPU is held: the job waits
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    ids, *_ = out.get(timeout=30)  # the kill released the lock: the job runs
    waiter.join(timeout=30)
    assert ids == ["0"]


@pytest.mark.slow
@pytest.mark.extra("sweeps")
def test_a_joblib_sweep_gives_each_job_its_own_gpu_and_records_it(tmp_path):
    """4 jobs, 3 at once, 2 simulated GPUs: each run records the GPU it was given, and runs on
    one GPU never overlap in time."""
    from tests.conftest import FAST, ROOT

    env = {**os.environ, "BIASLAB_GPUS": "2", "BIASLAB_GPU_LOCKS": str(tmp_path / "locks")}
    cmd = [sys.executable, str(ROOT / "src" / "train.py"), "-m", "hydra/launcher=joblib"]
    cmd += ["hydra.launcher.n_jobs=3", "seed=0,1,2,3", "extras.gpu_pool=true"]
    cmd += [*FAST, f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    spans = {}
    for job in (tmp_path / "sweep").glob("[0-9]"):
        gpu = json.loads((job / "provenance.json").read_text())["gpus"]
        start, end = (
            (job / "provenance.json").stat().st_mtime,
            (job / "metrics.json").stat().st_mtime,
        )
        spans.setdefault(gpu, []).append((start, end))
    assert set(spans) <= {"0", "1"} and sum(map(len, spans.values())) == 4
    for runs in spans.values():
        runs.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(runs))
