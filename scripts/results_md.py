"""Rebuild docs/results.md from the committed per-run files: python scripts/results_md.py
(see biaslab.analysis.page)."""

from __future__ import annotations

from pathlib import Path

from biaslab.analysis.page import write_page

if __name__ == "__main__":
    print(write_page(Path(__file__).resolve().parents[1]))
