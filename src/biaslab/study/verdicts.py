"""A section's verdicts as a pure function: a table of runs (one row per run: its factors' values,
seed, status and metrics), the per-example correctness of each run's test predictions, and the
typed declaration (`biaslab.study.spec.Preset`) -> a `Section` of values (`biaslab.study.
section`). One Holm family per section: every pair of arms the declared comparisons make
(`Preset.pairs`), each tested once. Nothing is read from disk and no prose is written here:
`biaslab.analysis.report` reads the files, `biaslab.study.render` writes the words around the
values (`docs/protocol.md` states the rule)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from biaslab.analysis.metrics import DEFAULT_METRICS
from biaslab.analysis.metrics import metric as registry
from biaslab.study import protocol as rule
from biaslab.study.describe import describe
from biaslab.study.section import ArmSummary, Cell, Comparison, Section
from biaslab.study.spec import Preset, same_value

PER_EXAMPLE = "test/acc"  # the metric the saved test predictions resolve into examples


def cell_of(arm: frozenset | Mapping[str, str], factors: Sequence[str]) -> Cell:
    """An arm (a frozenset of (factor, value) or a mapping) as a `Cell` in the factors' order."""
    values = dict(arm)
    return tuple((f, str(values[f])) for f in factors if f in values)


def rows_of(ok, cell: Cell):
    """The finished runs of arm `cell` (values compared as override texts: 0.0 is 0)."""
    keep = np.ones(len(ok), dtype=bool)
    for factor, value in cell:
        column = ok[factor].astype(str) if factor in ok else None
        if column is None:
            return ok.iloc[0:0]
        keep &= np.array([same_value(v, value) for v in column], dtype=bool)
    return ok[keep]


def summaries(ok, preset: Preset, metrics: Sequence[str], n_test: int | None) -> list:
    """`ArmSummary` per arm with finished runs, in the declaration's order (its factors' values
    as declared, the first factor slowest)."""
    out = []
    for arm in preset.arms:
        cell = cell_of(arm, tuple(preset.factors))
        rows = rows_of(ok, cell)
        if rows.empty:
            continue
        found = {m: describe(m, rows[m].tolist(), n_test) for m in metrics if m in rows}
        means = {m: v[0] for m, v in found.items()}
        out.append(ArmSummary(cell, len(rows), means, {m: v[1] for m, v in found.items()}))
    return out


def paired(ok, metric: str, arm: Cell, base: Cell):
    """The runs of `arm` and `base` on the seeds both finished with `metric` known, seed-aligned:
    (arm rows, baseline rows), each sorted by seed."""
    a, b = rows_of(ok, arm), rows_of(ok, base)
    a = a[a[metric].notna()] if metric in a else a.iloc[0:0]
    b = b[b[metric].notna()] if metric in b else b.iloc[0:0]
    seeds = sorted(set(a["seed"].astype(str)) & set(b["seed"].astype(str)), key=_seed_key)
    pick = lambda rows: rows.set_index(rows["seed"].astype(str)).loc[seeds]  # noqa: E731
    return pick(a), pick(b)


def _seed_key(seed: str) -> tuple:
    return (0, int(seed), "") if seed.isdigit() else (1, 0, seed)


def per_example(a, b, correct: Mapping[str, np.ndarray] | None):
    """(seeds, n_test) correctness arrays of both arms from the saved predictions, or None when
    a run has none or the test sets differ in size (then per-run scores are resampled)."""
    if not correct:
        return None
    runs = [*a["run_dir"], *b["run_dir"]]
    if not all(str(r) in correct for r in runs):
        return None
    arrays = [np.asarray(correct[str(r)], dtype=float) for r in runs]
    if len({x.shape for x in arrays}) != 1:
        return None
    return np.stack(arrays[: len(a)]), np.stack(arrays[len(a) :])


def evidence(ok, metric: str, arm: Cell, base: Cell, counts, correct, n_boot: int, seed: int):
    """(Evidence, per-seed differences, baseline mean, source, the count's k/n) of one pair;
    None where no seed has both arms finished."""
    a, b = paired(ok, metric, arm, base)
    if a.empty:
        return None
    x, y = a[metric].to_numpy(dtype=float), b[metric].to_numpy(dtype=float)
    if metric in counts:
        k = (int((x > 0.5).sum()), len(x), int((y > 0.5).sum()), len(y))
        return rule.count_evidence(*k), tuple(x - y), float(y.mean()), "runs (a count)", k
    examples = per_example(a, b, correct) if metric == PER_EXAMPLE else None
    arrays, source = (examples, "seeds × test examples") if examples else ((x, y), "seeds")
    found = rule.mean_evidence(*arrays, n_boot=n_boot, seed=seed)
    return found, tuple(x - y), float(y.mean()), source, None


def owner(pair: tuple, preset: Preset):
    """The declared comparison a family pair comes from (its δ, expected direction, pilot)."""
    metric, arm, base = pair
    for c in preset.comparisons:
        b, a = dict(base), dict(arm)
        if (
            c.metric == metric
            and c.key in b
            and same_value(b[c.key], c.value)
            and all(same_value(a.get(k, ""), v) for k, v in c.at.items())
        ):
            return c
    return None


def asked(c, preset: Preset) -> int | None:
    """The seeds the declaration asked for before the run: its claim's seed rule ("asks for
    N") or the comparison's declared pilot (`planning.seeds_needed` at its δ); the larger."""
    asks = [preset.claim.seeds_asked] if preset.claim and preset.claim.seeds_asked else []
    pilot = getattr(c, "pilot", None)
    if pilot is not None and c.delta:
        need = rule.seeds_needed(pilot.sd, pilot.seeds, c.delta, max(1, preset.family_size))
        asks.append(need)
    return max(asks) if asks else None


def decide(ok, preset: Preset, correct, n_boot: int, seed: int = 0) -> list[Comparison]:
    """Every pair of the preset's family that has paired runs, decided as ONE family
    (`protocol.decide_family`): the same seed for every pair's bootstrap, so one comparison
    recomputed alone gives the same numbers."""
    factors, found = tuple(preset.factors), []
    for pair in preset.pairs:
        arm, base = cell_of(pair[1], factors), cell_of(pair[2], factors)
        got = evidence(ok, pair[0], arm, base, preset.counts, correct, n_boot, seed)
        if got is not None:
            found.append((pair[0], arm, base, owner(pair, preset), got))
    deltas = [
        c.delta if c is not None and m not in preset.counts else None for m, *_, c, _ in found
    ]
    betters = [registry(m).better for m, *_ in found]
    verdicts = rule.decide_family([g[0] for *_, g in found], deltas, betters)
    planned = len(preset.seeds) or None
    out = []
    for (metric, arm, base, c, got), v, delta, better in zip(found, verdicts, deltas, betters):
        e, per_seed, base_mean, source, k = got
        ask = asked(c, preset) if c is not None else None
        n_planned = planned or e.n_seeds
        out.append(
            Comparison(
                metric, arm, base, e.kind, e.n_seeds, v.diff, v.low, v.high, v.level, v.p_holm,
                v.word, delta, better,
                expected=getattr(c, "expected", None),
                p_signflip=e.p_signflip, p_t=e.p_t,
                p_barnard=e.p if e.kind == "count" else math.nan, p_fisher=e.p_fisher,
                source=source, per_seed=per_seed, too_few=v.too_few_seeds,
                underpowered=None if ask is None else n_planned < ask, asked=ask,
                base_mean=base_mean, counts=k,
            )
        )  # fmt: skip
    return out


def decide_section(
    frame,
    preset: Preset,
    correct: Mapping[str, np.ndarray] | None = None,
    declared: bool = True,
    made_under: int = 1,
    n_boot: int = rule.N_BOOT,
) -> Section:
    """The section of `preset` from `frame` (one row per run: `status` "ok" for a finished
    one, `seed`, a column per factor and per metric, `run_dir` naming each run's key in
    `correct`: its per-example test correctness, (n_test,) booleans). `declared`: the runs
    were made under this declaration; `made_under`: the protocol they were made under."""
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    report = preset.report
    primary = report.primary if report else "test/acc"
    metrics = tuple(
        dict.fromkeys(
            m
            for m in (primary, *DEFAULT_METRICS, *(report.metrics if report else ()))
            if m in ok and ok[m].notna().any()
        )
    ) + tuple(sorted(c for c in ok if str(c).startswith("invariance/")))
    n_test = int(ok["test/n"].max()) if "test/n" in ok and ok["test/n"].notna().any() else None
    return Section(
        name=preset.name,
        protocol=rule.PROTOCOL_VERSION,
        made_under=made_under,
        declared=declared,
        primary=primary,
        baseline=report.baseline if report else None,
        delta=report.delta if report else None,
        factors=tuple(preset.factors),
        arms=tuple(summaries(ok, preset, metrics, n_test)),
        comparisons=tuple(decide(ok, preset, correct, n_boot)),
        metrics=metrics,
        counts=tuple(sorted(preset.counts)),
        jobs=len(frame),
        failed=int((frame["status"] != "ok").sum()) if "status" in frame else 0,
        n_boot=n_boot,
        tuning_seeds_reused=preset.tuning_seeds_reused,
        seeds_asked=preset.claim.seeds_asked if preset.claim else None,
    )
