"""What a participant's actions and reads return (`crowdstake.participant.Participant`):
small frozen dataclasses, token amounts exact `Decimal`s, a score table a DataFrame."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd


@dataclass(frozen=True)
class Submission:
    """An upload committed on-chain; for a Signals round, `dropped` lists the file's tickers
    outside the round's universe (sorted), which are not scored."""

    round: int
    model: str
    hash: str
    tx: str
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True)
class StakeChange:
    """A position after `stake` or `decrease`: its whole stake now."""

    round: int
    model: str
    stake: Decimal
    tx: str


@dataclass(frozen=True)
class Claim:
    """A settled position: its gain or loss, where the payout went, and why it went to the
    wallet when a restake was asked but the payout could not open a position (`note`)."""

    round: int
    model: str
    delta: Decimal
    restaked_into: int | None
    tx: str
    note: str = ""
    paid: Decimal | None = None  # the stake plus the gain, or less the burn: what went to the wallet or the restake


@dataclass(frozen=True)
class Balance:
    """The wallet's tokens and ETH, and its internal balance in the Tournament (payouts credited
    there, withdrawn with `withdraw` or staked with `stake(..., from_balance=True)`)."""

    address: str
    tokens: Decimal
    eth: Decimal
    internal: Decimal


@dataclass(frozen=True)
class Withdrawal:
    amount: Decimal
    left: Decimal  # the internal balance after it
    tx: str


@dataclass(frozen=True)
class Refund:
    round: int
    model: str
    amount: Decimal
    tx: str


@dataclass(frozen=True)
class Scores:
    """A round's voted score table: `provisional` while it is accepted but not finalised (a veto
    may still replace it). `table` has one row per position, the wallet's own first."""

    round: int
    provisional: bool
    table_hash: str
    table: pd.DataFrame
