"""The index: a deployment's events followed into one SQLite file, for a dashboard and the CLI
(`crowdstake index`).

- `schema`: the tables (one append-only table per event kind), the views that derive current
  state (positions, rounds, tournaments, members, balances), opening a file, rewinding it;
- `decode`: raw logs as rows;
- `follow`: the `Indexer` (paged backfill, the head minus confirmations, reorgs, restarts);
- `scores`: the published score tables, fetched from the store and checked by their hash;
- `read`: what readers call (`leaderboard`, `round_detail`, `model_history`, `wallet_history`,
  `committee`, `status`);
- `dashboard`: each page of the dashboard's data (`crowdstake web`), built on `read`.

docs/index.md describes the file table by table."""

from crowdstake.index.follow import DEFAULT_CONFIRMATIONS, DEFAULT_POLL, Indexer, Progress, identity
from crowdstake.index.read import committee, leaderboard, model_history, round_detail, round_table, status, wallet_history
from crowdstake.index.schema import SCHEMA_VERSION, Identity, Index, open_index, rewind

__all__ = ["DEFAULT_CONFIRMATIONS", "DEFAULT_POLL", "SCHEMA_VERSION", "Identity", "Index", "Indexer", "Progress",
           "committee", "identity", "leaderboard", "model_history", "open_index", "rewind", "round_detail",
           "round_table", "status", "wallet_history"]
