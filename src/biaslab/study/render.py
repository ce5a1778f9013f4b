"""A `Section`'s values as markdown: the report's comparison table and per-arm table, the page's
verdict lines, and the sentences that say how the words were decided. Rendering reads the
values and formats them; it computes no statistic (`biaslab.study.verdicts` does)."""

from __future__ import annotations

import math

from biaslab.analysis.metrics import metric as registry
from biaslab.study.section import Comparison, Section
from biaslab.study.tuning import NOISE_Z


def fmt(value: float, digits: int = 4) -> str:
    """A number as the tables print it ('' for NaN; thousands with separators)."""
    if value != value:
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def fmt_p(p: float) -> str:
    return "" if p != p else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def p_is(name: str, p: float) -> str:
    """`Holm p = 0.012` or `Holm p < 0.001`."""
    return f"{name} < 0.001" if p < 0.001 else f"{name} = {p:.3f}"


def protocol_line(section: Section) -> str:
    """Which protocol read the runs and which one they were made under (preset.json)."""
    made = f"protocol {section.made_under}"
    return (
        f"- protocol: **v{section.protocol}** ([docs/protocol.md](../../../protocol.md)) reads "
        f"these runs; they were made under {made} (preset.json)"
    )


def needs_new_runs(section: Section) -> str:
    """The sentence that marks a section whose v2 reading needs new runs, else ''."""
    if not section.tuning_seeds_reused:
        return ""
    return (
        "**v2 reading needs new runs**: this preset's tuning seeds are among its compared seeds "
        "(protocol 2 tunes on other seeds), so these words stand until the re-run."
    )


def method(section: Section) -> str:
    """How the words were decided, with the family's size and the resampling's size."""
    m = section.family_size
    return (
        f"Verdicts under protocol v{section.protocol}: each comparison is arm − baseline over "
        f"paired seeds; its interval is a paired bootstrap ({section.n_boot} replicates) over "
        "seeds and, for test/acc, the test examples too (the saved predictions), drawn at its "
        f"Holm step's level over the section's one family of {m} comparison{'s' * (m != 1)}; "
        "that one interval decides the word against ±δ (beyond δ, within δ, undecided vs δ, "
        "equivalent, inconclusive). Counts are tested by Barnard's exact test (Fisher's p "
        "beside it). `too few seeds`: no sign-flip test over these seeds can reach α/m. The "
        "sign-flip and t p over seeds are printed beside the words, not used by them."
        + (
            ""
            if section.declared
            else " **Exploratory**: no declaration recorded with these runs for this comparison, "
            "so the word column shows only where the interval lies (`+`/`−`: off zero, `·`: "
            "holding zero)."
        )
    )


def said(c: Comparison, declared: bool) -> str:
    """The word as printed: the rule's word (declared) or the exploratory sign."""
    if declared:
        return c.word
    if c.kind == "count" or c.low != c.low:
        return "·"
    return "+" if c.low > 0 else "−" if c.high < 0 else "·"


def notes(c: Comparison) -> str:
    """A comparison's flags: underpowered before the run, the count's table, the δ."""
    out = []
    if c.underpowered:
        out.append(f"underpowered: {c.n_seeds} seeds, the seed rule asked for {c.asked}")
    if c.counts is not None:
        out.append(f"{c.counts[0]}/{c.counts[1]} vs {c.counts[2]}/{c.counts[3]} runs")
    return "; ".join(out)


def interval(c: Comparison) -> str:
    if c.kind == "count" or c.low != c.low:
        return f"(exact test at {c.level:.3g})"
    return f"[{c.low:+.4f}, {c.high:+.4f}] ({c.coverage:.1%})"


def comparisons_table(section: Section) -> str:
    """One row per comparison of the family, in the family's order."""
    head = "| metric | arm | baseline | seeds | difference | interval (coverage) | δ | Holm p "
    head += "| sign-flip p | t p | Barnard p | Fisher p | word | notes |"
    lines = [head, "|" + "---|" * 14]
    for c in section.comparisons:
        cells = [
            f"{c.metric}{registry(c.metric).direction_words}",
            c.arm_name,
            c.baseline_name,
            str(c.n_seeds),
            f"{c.diff:+.4f}",
            interval(c),
            "" if c.delta is None else f"±{c.delta:g}",
            fmt_p(c.p_holm),
            fmt_p(c.p_signflip),
            fmt_p(c.p_t),
            fmt_p(c.p_barnard),
            fmt_p(c.p_fisher),
            said(c, section.declared),
            notes(c),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def baselines(section: Section) -> set:
    return {c.baseline for c in section.comparisons}


def arms_table(section: Section) -> str:
    """Per arm, mean ± 95 % interval of each metric (described, not compared), in declared
    order; a baseline arm marked."""
    head = ["arm", "seeds", *section.metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    bases = baselines(section)
    for a in section.arms:
        cells = [a.name + (" (baseline)" if a.arm in bases else ""), str(a.seeds)]
        for m in section.metrics:
            mean, half = a.means.get(m, math.nan), a.halves.get(m, math.nan)
            exact = m == "params/total" or half != half
            spread = f"{half:,.0f}" if abs(mean) >= 1000 else fmt(half)
            cells.append(fmt(mean) if exact else f"{fmt(mean)} ± {spread}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict_lines(section: Section) -> list[str]:
    """The page's lines: per comparison, the word (declared) and its numbers, grouped by the
    metric and baseline they compare, every one of the family."""
    out, seen = [], None
    for c in section.comparisons:
        group = (c.metric, c.baseline)
        if group != seen:
            out.append(
                f"- on `{c.metric}`{registry(c.metric).direction_words} against "
                f"`{c.baseline_name}`" + (f" (±δ = {c.delta:g})" if c.delta else "") + ":"
            )
            seen = group
        word = f"**{c.word}** " if section.declared else ""
        flag = notes(c)
        ps = ", ".join(
            p_is(name, p)
            for name, p in (("Holm p", c.p_holm), ("sign-flip p", c.p_signflip), ("t p", c.p_t))
            if p == p
        )
        out.append(
            f"  - {c.arm_name}: {word}(difference {c.diff:+.4f}, {interval(c)}, {ps}, "
            f"{c.n_seeds} seeds{'; ' + flag if flag else ''})"
        )
    return out


def word_counts(section: Section) -> str:
    """The opening table's cell: each word of the family counted (declared), else signs."""
    if not section.comparisons:
        return "(no baseline comparison)"
    words = [said(c, section.declared) for c in section.comparisons]
    counted = {w: words.count(w) for w in dict.fromkeys(words)}
    text = "; ".join(f"{n} {w}" for w, n in counted.items())
    under = sum(bool(c.underpowered) for c in section.comparisons)
    return text + (f" ({under} underpowered before the run)" if under else "")


def tie_words(entry: dict) -> str:
    """How a tuning.json entry's pick was taken from its tied values ('' when none tied)."""
    tied = entry.get("tied") or []
    if len(tied) < 2:
        return ""
    noise = entry.get("tie_rule") == "noise"
    size = f" ({NOISE_Z} standard errors of a difference, from the tuning seeds' spread)"
    middle = "middle one" if len(tied) % 2 else "lower of the middle two"
    return (
        f"; within {entry['tie']:.3g} of the best{size if noise else ''}: {', '.join(tied)} "
        f"(the {middle} in grid order is taken)"
    )
