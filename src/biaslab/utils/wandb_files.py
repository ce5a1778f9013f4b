"""Read W&B's own offline run file (`run-<id>.wandb`), with W&B's protobuf `Record` type.

The file is W&B's leveldb-style log: a 7-byte header (":W&B", magic 0xBEE1, version 1), then
32 KiB blocks of chunks, each with a 7-byte header (crc32, length u16, type: 1 full, 2 first,
3 middle, 4 last). Used to check what a run really logged, without the network or stdout.

Why not W&B's own reader: the client had one (`wandb.sdk.internal.datastore.DataStore`) until
its internal process moved to the Go `wandb-core`; the installed client (0.31) ships no Python
reader, and its CLI only uploads (`wandb sync`). The records are decoded with W&B's own
protobuf `Record` type, so only the framing above is ours.
"""

from __future__ import annotations

import json
import struct
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
    return [
        (r.artifact.name, r.artifact.type)
        for r in read_records(path)
        if r.WhichOneof("record_type") == "artifact"
    ]


def find_run_files(root: str | Path) -> list[Path]:
    """All W&B run files under a run or sweep dir."""
    return sorted(Path(root).rglob("run-*.wandb"))
