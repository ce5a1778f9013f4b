"""Read W&B's own offline run file (`run-<id>.wandb`), with W&B's protobuf `Record` type.

The file is W&B's leveldb-style log: a 7-byte header (":W&B", magic 0xBEE1, version 1), then
32 KiB blocks of chunks, each with a 7-byte header (crc32, length u16, type: 1 full, 2 first,
3 middle, 4 last). Used to check what a run really logged, without the network or stdout.

Why not W&B's own reader: the client had one (`wandb.sdk.internal.datastore.DataStore`) until
its internal process moved to the Go `wandb-core`; the installed client (0.31) ships no Python
reader, and its CLI only uploads (`wandb sync`). The records are decoded with W&B's own
protobuf `Record` type, so only the framing above is ours. `write_records` writes the same
framing (crc32 of the type byte and payload), so a run file can be rewritten: `relocate` points a
copied run dir's artifact records at the copy's own staged files, ready for `wandb sync`.
"""

from __future__ import annotations

import gzip
import json
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7


def _chunks(data: bytes):
    pos = HEADER
    while pos + HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < HEADER:
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if length == 0 and kind == 0:
            pos += left_in_block
            continue
        yield kind, data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length


def read_records(path: str | Path) -> list[Any]:
    """Every `wandb_internal_pb2.Record` in a run-<id>.wandb file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file.")
    records, buffer = [], b""
    for kind, payload in _chunks(data):
        buffer += payload
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(buffer)
            records.append(record)
            buffer = b""
    return records


def write_records(
    path: str | Path, records: list[Any], header: bytes = b":W&B\xe1\xbe\x00"
) -> None:
    """Write `records` as a W&B run file (the framing `read_records` reads): each record's bytes
    split over 32 KiB blocks as full/first/middle/last chunks, a block's tail under 7 bytes
    zero-padded. Written beside `path` and renamed over it, so a reader never sees half a file."""
    out = bytearray(header)
    for record in records:
        data, first = record.SerializeToString(), True
        while True:
            left = BLOCK - len(out) % BLOCK
            if left < HEADER:
                out += bytes(left)
                continue
            piece, data = data[: left - HEADER], data[left - HEADER :]
            kind = (1 if not data else 2) if first else (4 if not data else 3)
            crc = zlib.crc32(bytes([kind]) + piece)
            out += struct.pack("<IHB", crc, len(piece), kind) + piece
            first = False
            if not data:
                break
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(bytes(out))
    tmp.replace(path)


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """The logged history rows ({key: value}) of an offline run file."""
    rows = []
    for record in read_records(path):
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {
                    item.key or "/".join(item.nested_key): json.loads(item.value_json)
                    for item in record.history.item
                }
            )
    return rows


def read_summary(path: str | Path, records: list[Any] | None = None) -> dict[str, Any]:
    """The run's summary as its file last recorded it ({key: value}); `records` when the file
    was already read."""
    summary: dict[str, Any] = {}
    for record in read_records(path) if records is None else records:
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return summary


def read_artifacts(path: str | Path) -> list[tuple[str, str]]:
    """(name, type) of every artifact the run logged."""
    return [(a.name, a.type) for a in artifact_records(path)]


def artifact_records(path: str | Path, records: list[Any] | None = None) -> list[Any]:
    """Every `ArtifactRecord` of a run file, in order (name, type, aliases, metadata (JSON),
    manifest.contents: path in the artifact, local_path of the staged file, digest)."""
    return [
        r.artifact
        for r in (read_records(path) if records is None else records)
        if r.WhichOneof("record_type") == "artifact"
    ]


def read_config(path: str | Path, records: list[Any] | None = None) -> dict[str, Any]:
    """The run's config as its file last recorded it ({top-level key: value}, W&B's own
    `_wandb` key left out): what the W&B API's `run.config` gives after `wandb sync`."""
    config: dict[str, Any] = {}
    for record in read_records(path) if records is None else records:
        kind = record.WhichOneof("record_type")
        items = record.config if kind == "config" else record.run.config if kind == "run" else None
        for item in items.update if items is not None else ():
            key = item.key or "/".join(item.nested_key)
            if key and key != "_wandb":
                config[key] = json.loads(item.value_json)
        for item in items.remove if items is not None else ():
            config.pop(item.key or "/".join(item.nested_key), None)
    return config


@dataclass
class OfflineRun:
    """One run as its offline file holds it, with the W&B API `Run`'s attributes that a report
    reads (`name`, `group`, `job_type`, `id`, `config`, `summary`, `state`): the same run
    before `wandb sync`."""

    name: str
    group: str
    job_type: str
    id: str
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    state: str = "running"


def read_run(path: str | Path) -> OfflineRun:
    """The run of a run file: its name, group and id (the run record), config, summary and
    state (`finished` when it exited 0, `failed` on another exit, else `running`)."""
    records = read_records(path)
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    exits = [r.exit.exit_code for r in records if r.WhichOneof("record_type") == "exit"]
    state = "running" if not exits else "finished" if exits == [0] else "failed"
    return OfflineRun(
        run.display_name,
        run.run_group,
        run.job_type,
        run.run_id,
        read_config(path, records),
        read_summary(path, records),
        state,
    )


STAGING = (
    "wandb",
    "data",
    "artifacts",
    "staging",
)  # under a run dir: WANDB_DATA_DIR=<run>/wandb/data


def staged_files(path: str | Path) -> list[Path]:
    """Every local file the run file's artifact records upload from (their staged copies), in
    record order, as the records name them (absolute paths where they were written)."""
    files = []
    for artifact in artifact_records(path):
        files += [Path(e.local_path) for e in artifact.manifest.contents if e.local_path]
        if artifact.manifest.manifest_file_path:
            files.append(Path(artifact.manifest.manifest_file_path))
    return files


def relocate(root: str | Path) -> list[Path]:
    """Point the artifact records of every run file under a copied (moved) run or sweep dir at
    the copy's own staged files, so `wandb sync` of the copy uploads them: a staged path
    `<old run dir>/wandb/data/artifacts/staging/NAME` becomes NAME in the staging folder of the
    run dir that holds the file (`<run dir>/wandb/<offline-run-...>/run-<id>.wandb`). Other
    paths are left as they are. Returns the run files rewritten."""
    changed = []
    for path in find_run_files(Path(root).resolve()):
        staging = path.parents[2].joinpath(*STAGING)
        records, moved = read_records(path), False
        for artifact in artifact_records(path, records):
            for entry in artifact.manifest.contents:
                new = _moved(entry.local_path, staging)
                if new is not None:
                    entry.local_path, moved = new, True
            new = _moved(artifact.manifest.manifest_file_path, staging)
            if new is not None:
                _relocate_manifest_file(Path(new), staging)
                artifact.manifest.manifest_file_path, moved = new, True
        if moved:
            write_records(path, records, path.read_bytes()[:HEADER])
            changed.append(path)
    return changed


def _moved(local: str, staging: Path) -> str | None:
    """`local` in `staging` when it is another run dir's staged file, else None."""
    marker = "/" + "/".join(STAGING) + "/"
    if not local or marker not in local or Path(local).parent == staging:
        return None
    return str(staging / local.rpartition(marker)[2])


def _relocate_manifest_file(path: Path, staging: Path) -> None:
    """A large artifact's manifest file (gzip JSON lines, one entry each): its entries'
    local_path moved as `_moved` moves them."""
    with gzip.open(path, "rt") as lines:
        entries = [json.loads(line) for line in lines]
    for entry in entries:
        local = entry.get("local_path", "")
        entry["local_path"] = _moved(local, staging) or local
    with gzip.open(path, "wt") as out:
        out.writelines(json.dumps(entry) + "\n" for entry in entries)


def find_run_files(root: str | Path) -> list[Path]:
    """All W&B run files under a run or sweep dir, each once: not again through W&B's
    `latest-run` link (a real folder after a copy that follows links, e.g. `cp -rL`)."""
    return sorted(p for p in Path(root).rglob("run-*.wandb") if "latest-run" not in p.parts)


def main(argv: list[str]) -> int:
    """`python -m biaslab.utils.wandb_files relocate RUN_DIR...`: after copying run dirs off the
    machine that ran them, before `wandb sync` of the copies."""
    if len(argv) < 2 or argv[0] != "relocate":
        print(
            "Error: usage is `python -m biaslab.utils.wandb_files relocate RUN_DIR...` "
            "(a copied run or sweep dir); give the command and at least one dir.",
            file=sys.stderr,
        )
        return 2
    missing = [d for d in argv[1:] if not Path(d).is_dir()]
    if missing:
        print(
            f"Error: {missing[0]} is not a folder; give a copied run or sweep dir.", file=sys.stderr
        )
        return 2
    from google.protobuf.message import DecodeError

    for folder in argv[1:]:
        try:
            for path in relocate(folder):
                print(f"relocated {path}")
        except (OSError, ValueError, DecodeError) as err:
            print(
                f"Error: a W&B run file under {folder} cannot be read ({err}); copy it again.",
                file=sys.stderr,
            )
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
