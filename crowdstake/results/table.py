"""The published score table of a round: one row per staked position with its scores, the
integer score committed in the Merkle tree, the payout the contract will compute, why a floor
score was given, and the proof a claim needs. Its keccak256 is the `scoreTableHash` voted
on-chain, so anyone can check that the table they read is the one the committee accepted."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from eth_hash.auto import keccak

from crowdstake.errors import InvalidInputError

COLUMNS = ("staker", "modelId", "stake", "corr", "mmc", "score", "quantized", "delta", "reason", "proof")


@dataclass(frozen=True)
class Row:
    staker: str
    model_id: bytes
    stake: int
    corr: float
    mmc: float
    score: float
    quantized: int
    delta: int
    reason: str
    proof: tuple[bytes, ...]


def table_hash(data: bytes) -> bytes:
    """The hash the committee votes as `scoreTableHash`."""
    return keccak(data)


def write_table(rows: list[Row]) -> bytes:
    """The table's canonical bytes: rows sorted by (staker, modelId), floats in repr (round-trip)
    form, so independent operators write byte-identical files."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in sorted(rows, key=lambda r: (r.staker.lower(), r.model_id)):
        writer.writerow([
            r.staker, "0x" + r.model_id.hex(), r.stake, repr(r.corr), repr(r.mmc), repr(r.score),
            r.quantized, r.delta, r.reason, ";".join("0x" + p.hex() for p in r.proof),
        ])
    return out.getvalue().encode()


def read_table(data: bytes) -> list[Row]:
    """Parse a published table, or say which line is malformed."""
    reader = csv.reader(io.StringIO(data.decode()))
    header = next(reader, None)
    if tuple(header or ()) != COLUMNS:
        raise InvalidInputError(f"not a crowdstake score table: header {header} is not {list(COLUMNS)}")
    rows = []
    for line, f in enumerate(reader, start=2):
        try:
            rows.append(Row(
                f[0], bytes.fromhex(f[1].removeprefix("0x")), int(f[2]), float(f[3]), float(f[4]),
                float(f[5]), int(f[6]), int(f[7]), f[8],
                tuple(bytes.fromhex(p.removeprefix("0x")) for p in f[9].split(";") if p),
            ))
        except (IndexError, ValueError) as e:
            raise InvalidInputError(f"score table line {line} is malformed: {e}") from None
    return rows
