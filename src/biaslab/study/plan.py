"""Which runs a preset makes: the typed `Preset` turned into sweeps (a folder under the
preset's dir and the overrides of one `src/train.py -m`), the tuning stage, the comparisons the
report must hold (one Holm family) and the seed rule's ask per comparison, all before any run.

This is the ONE place where a preset's override strings are written: an arm (a swept key's
value, or a named bundle of overrides plus its `arm=<name>` tag), the tuning grid and seeds,
a widened grid value, the picks, the W&B group and a re-run's seeds. `biaslab.study.runner`
starts the processes; nothing here does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biaslab.study.parts import Comparison
from biaslab.study.spec import ARM, Preset
from biaslab.study.tuning import arm_slug

QUIET = (
    "extras.print_config=false",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
)


def experiment(name: str) -> str:
    """The override that composes preset `name`."""
    return f"experiment={name}"


@dataclass(frozen=True)
class Sweep:
    """One `src/train.py -m` of a stage: its folder (relative to the preset's dir), the
    overrides after `experiment=NAME` and `hydra.sweep.dir`, and the arm it runs in words."""

    folder: str
    overrides: tuple[str, ...]
    what: str

    def args(self, name: str, out: Path) -> list[str]:
        """The command line after `src/train.py -m`: the preset, this sweep's dir in `out`,
        its overrides."""
        return [experiment(name), f"hydra.sweep.dir={out / self.folder}", *self.overrides]


@dataclass(frozen=True)
class Ask:
    """A comparison's seed ask, decided before the run from its declared pilot at its δ
    (`protocol.seeds_needed`) or from the claim's seed rule ("asks for N"): `needed` None
    where neither is declared; `underpowered` where the planned seeds are fewer."""

    comparison: Comparison
    needed: int | None
    source: str
    underpowered: bool


def fixed(preset: Preset, arm: Mapping[str, str]) -> list[str]:
    """The overrides that run one arm alone: each factor as a one-value sweep (`key=choice(v)`,
    so that it stays a column of the sweep, wins over the preset's params and names the W&B
    run), a bundle as its overrides plus its `arm=choice(name)` tag."""
    out = []
    for key, value in arm.items():
        out.append(f"{key}=choice({value})")
        if key == ARM:
            out += preset.bundles[value]
    return out


def held(preset: Preset, at: Mapping[str, str]) -> list[str]:
    """Factors held at one value (`tune.at`) as plain overrides; a bundle with its overrides."""
    out = []
    for key, value in at.items():
        out.append(f"{key}={value}")
        if key == ARM:
            out += preset.bundles[value]
    return out


@dataclass(frozen=True)
class Plan:
    """A preset's runs, stage by stage, with the user's `extra` overrides last but the ones the
    plan must win (the tuning seeds, each arm's fixed values)."""

    preset: Preset
    extra: tuple[str, ...] = ()

    @property
    def over(self) -> tuple[str, ...]:
        """The factors tuning picks per value of (`tune.over`, all factors when not given)."""
        tune = self.preset.tune
        return tuple(self.preset.factors) if tune is None or tune.over is None else tune.over

    def _tuning_common(self) -> list[str]:
        seeds = ",".join(str(s) for s in self.preset.tuning_seeds)
        # the tuning seeds come last: a seed list given for the final runs must not replace them
        return ["test=false", *QUIET, *self.extra, f"hydra.sweeper.params.seed='{seeds}'"]

    def tuning(self) -> list[Sweep]:
        """Stage 1: every arm x the grid on the tuning seeds, no test; one sweep, or one per
        bundle where the bundles are tuned apart (`tune/arm-<name>`)."""
        tune = self.preset.tune
        if tune is None:
            return []
        grid = [f"{k}={','.join(values)}" for k, values in tune.grid.items()]
        common = [*self._tuning_common(), *grid, *held(self.preset, tune.at)]
        if not self.preset.bundles or ARM not in self.over:
            return [Sweep("tune", tuple(common), "every arm")]
        return [
            Sweep(f"tune/{arm_slug({ARM: b})}", (*common, *fixed(self.preset, {ARM: b})), b)
            for b in self.preset.bundles
        ]

    def widening(self, arm: Mapping[str, str], value: str) -> Sweep:
        """One arm's tuning at one more grid value past an edge of its one-key grid."""
        tune = self.preset.tune
        (key,) = tune.grid
        overrides = [
            *self._tuning_common(),
            *fixed(self.preset, arm),
            *held(self.preset, tune.at),
            f"{key}={value}",
        ]
        return Sweep(f"tune_widen/{arm_slug(arm)}_{key}-{value}", tuple(overrides), str(arm))

    def final(self, picks: Mapping[str, Any] | None = None) -> list[Sweep]:
        """Stage 2: the compared seeds, each arm at its tuned value (`picks`: tuning.json's
        entries), with test; one sweep, or one per arm where tuned or made of bundles."""
        if picks:
            return [
                Sweep(
                    f"final/{slug}",
                    (
                        *QUIET,
                        *self.extra,
                        *fixed(self.preset, entry["arm"]),
                        *(f"{k}={v}" for k, v in entry["chosen"].items()),
                    ),
                    slug,
                )
                for slug, entry in picks.items()
            ]
        if not self.preset.bundles:
            return [Sweep("final", (*QUIET, *self.extra), "every arm")]
        return [
            Sweep(
                f"final/{arm_slug({ARM: b})}",
                (*QUIET, *self.extra, *fixed(self.preset, {ARM: b})),
                b,
            )
            for b in self.preset.bundles
        ]

    def asks(self) -> list[Ask]:
        """Each declared comparison's seed ask, before any run (see `ask`)."""
        return [ask(self.preset, c) for c in self.preset.comparisons]


def ask(preset: Preset, c: Comparison) -> Ask:
    """The seeds comparison `c` needs: from its declared pilot at its δ (the pilot's SD at its
    upper confidence limit, Holm's strictest step over the section's family), else from the
    claim's seed rule ("asks for N"); underpowered when the preset plans fewer seeds."""
    from biaslab.study.protocol import seeds_needed

    planned, asked = len(preset.seeds), preset.claim.seeds_asked if preset.claim else None
    if c.pilot is not None and c.delta is not None:
        need = seeds_needed(c.pilot.sd, c.pilot.seeds, c.delta, preset.family_size)
        source = f"pilot SD {c.pilot.sd:g} on {c.pilot.seeds} seeds at ±{c.delta:g}"
    elif asked is not None:
        need, source = asked, "the claim's seed rule (claim.seeds: asks for N)"
    else:
        return Ask(c, None, "no pilot declared", False)
    return Ask(c, need, source, planned < need)


def group(name: str, declaration: str | None) -> str:
    """The W&B group of a preset's runs: the preset and its declaration's hash."""
    return f"logger.wandb.group={name}-{declaration or 'undeclared'}"


def reseeded(preset: Preset, seeds: range) -> list[str]:
    """Overrides that re-run a preset on `seeds` (a replication): the compared seeds, and the
    tuning seeds shifted by as much (`seeds.start` + each declared tuning seed)."""
    out = [f"hydra.sweeper.params.seed='range({seeds.start},{seeds.stop})'"]
    if preset.tune:
        out.append(f"tune.seeds=[{','.join(str(seeds.start + s) for s in preset.tuning_seeds)}]")
    return out


def _seeds_words(seeds: tuple[int, ...]) -> str:
    if seeds and seeds == tuple(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]})"
    return f"{len(seeds)} seed(s) ({', '.join(map(str, seeds))})"


def _tuning_lines(plan: Plan) -> list[str]:
    tune = plan.preset.tune
    if tune is None:
        return ["tuning: none (every arm runs as declared)"]
    grid = "; ".join(f"{k} in [{', '.join(v)}]" for k, v in tune.grid.items())
    per = ", ".join(plan.over) or "the whole preset"
    at = f", the other factors held at {dict(tune.at)}" if tune.at else ""
    reused = (
        " (shared with the compared seeds: protocol 1)" if plan.preset.tuning_seeds_reused else ""
    )
    return [
        f"tuning: {grid}, per {per}{at}, on tuning seeds {list(plan.preset.tuning_seeds)}{reused}, by "
        f"{tune.metric} ({tune.goal}), tie {tune.tie}, widened past an edge pick up to "
        f"{tune.widen} time(s); no test",
        *(f"  {s.folder}: {s.what}" for s in plan.tuning()),
    ]


def describe(plan: Plan) -> list[str]:
    """What `run_preset.py NAME --plan` prints: the runs, the tuning stage, the comparisons
    (one Holm family) and the seed rule's ask per comparison, marked underpowered where the
    preset plans fewer seeds than it asks, all before any run."""
    p = plan.preset
    arms = p.arms
    lines = [
        f"{p.name}: protocol {p.protocol}; {len(arms)} arm(s) x {_seeds_words(p.seeds)} = "
        f"{len(arms) * len(p.seeds)} runs with test"
    ]
    for arm in arms:
        bundle = p.bundles.get(arm.get(ARM, ""), ())
        words = ", ".join(f"{k}={v}" for k, v in arm.items()) or "one arm"
        lines.append(f"  {words}" + (f": {' '.join(bundle)}" if bundle else ""))
    lines += _tuning_lines(plan)
    lines.append(f"comparisons (one Holm family of {p.family_size} test(s)):")
    for a in plan.asks():
        c = a.comparison
        delta = f"±{c.delta:g}" if c.delta is not None else "no δ"
        at = f" at {dict(c.at)}" if c.at else ""
        count = " (a count: exact test)" if c.metric in p.counts else ""
        lines.append(
            f"  {c.metric}: each arm against {c.key}={c.value}{at}, {delta}{count} [{c.where}]"
        )
        if a.needed is None:
            lines.append(f"    seed rule: {a.source}; {len(p.seeds)} planned")
        else:
            mark = "UNDERPOWERED" if a.underpowered else "enough"
            lines.append(
                f"    seed rule: asks for {a.needed} ({a.source}); {len(p.seeds)} planned: {mark}"
            )
    return lines


def record(plan: Plan) -> dict[str, Any]:
    """The plan as preset.json records it: the protocol, the family's size and every declared
    comparison (so the report holds each) with its ask and underpowered mark."""
    p = plan.preset
    return {
        "protocol": p.protocol,
        "family_size": p.family_size,
        "seeds": list(p.seeds),
        "tuning_seeds": list(p.tuning_seeds),
        "comparisons": [
            {
                "metric": a.comparison.metric,
                "baseline": f"{a.comparison.key}={a.comparison.value}",
                "delta": a.comparison.delta,
                "expected": a.comparison.expected,
                "at": dict(a.comparison.at),
                "declared": a.comparison.where,
                "count": a.comparison.metric in p.counts,
                "seeds_needed": a.needed,
                "ask_from": a.source,
                "underpowered": a.underpowered,
            }
            for a in plan.asks()
        ],
    }
