"""A published preset in a few files: `runs.csv` (one row per run: its folder, overrides, status,
device, commit and metrics: the table a reader opens), `configs.tar.xz` (each run's resolved
config, overrides, metrics and provenance, and each sweep's multirun.yaml), `histories.tar.xz`
(each run's history.csv) and `predictions.tar` (each run's predictions.npz). `unpacked()` gives
the run folders back, byte for byte, so every report rebuilds from these files alone.
"""

from __future__ import annotations

import csv
import io
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from biaslab.run.files import CONFIG, HISTORY, METRICS, OVERRIDES, PREDICTIONS, PROVENANCE

ARCHIVES = {
    "configs.tar.xz": (CONFIG, OVERRIDES, METRICS, PROVENANCE, "multirun.yaml"),
    "histories.tar.xz": (HISTORY,),
    "predictions.tar": (PREDICTIONS,),
}
TABLE = "runs.csv"


def is_packed(folder: Path) -> bool:
    return (Path(folder) / "configs.tar.xz").exists()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    """A member with fixed metadata, so the same files give the same archive bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    archive.addfile(info, io.BytesIO(data))


def pack(src: Path, dst: Path) -> list[Path]:
    """Write the archives and the runs table for the run folders under `src` into `dst`."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for archive_name, names in ARCHIVES.items():
        members = sorted(
            p for p in src.rglob("*") if p.is_file() and any(str(p).endswith(n) for n in names)
        )
        members = [p for p in members if not any(part.startswith("report") for part in p.parts)]
        mode = "w:xz" if archive_name.endswith(".xz") else "w"
        with tarfile.open(dst / archive_name, mode, format=tarfile.USTAR_FORMAT) as archive:
            for path in members:
                _add(archive, str(path.relative_to(src)), path.read_bytes())
        written.append(dst / archive_name)
    written.append(write_table(src, dst / TABLE))
    return written


def write_table(src: Path, path: Path) -> Path:
    """runs.csv: one row per run folder under `src`."""
    from biaslab.run.files import find_runs

    rows = []
    for run in find_runs(src):
        provenance = run.read_provenance()
        rows.append(
            {
                "run": str(run.path.relative_to(src)),
                "overrides": " ".join(run.read_overrides() or []),
                "status": "finished" if run.finished else "unfinished",
                "device": provenance.get("device", ""),
                "commit": (provenance.get("git_commit") or "")[:7],
                **run.read_metrics(),
            }
        )
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@contextmanager
def unpacked(folder: Path) -> Iterator[Path]:
    """The folder's runs as run folders: itself when not packed, else a temporary copy (named
    like it) rebuilt from its archives, with its preset.json and tuning.json."""
    folder = Path(folder)
    if not is_packed(folder):
        yield folder
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / folder.name
        out.mkdir()
        for archive_name in ARCHIVES:
            if (folder / archive_name).exists():
                with tarfile.open(folder / archive_name) as archive:
                    archive.extractall(out, filter="data")
        for name in ("preset.json", "tuning.json"):
            if (folder / name).exists():
                shutil.copy2(folder / name, out / name)
        yield out


def runs_equal(a: Path, b: Path) -> bool:
    """Do two folders hold the same run files (names and bytes)?"""
    names = [n for ns in ARCHIVES.values() for n in ns]

    def files(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file()
            and any(str(p).endswith(n) for n in names)
            and not any(part.startswith("report") for part in p.relative_to(root).parts)
        }

    return files(a) == files(b)
