"""The submission store: where participants upload predictions before a round closes, where
everyone reads them after it closed, where the oracle publishes score tables, and where the fund
publishes each round's dataset (before it opens) and targets (once it resolved), both
committed on-chain by their hashes.

Two backends with one interface, `Store`: `LocalStore` (a directory; every rule lives there,
see `crowdstake.store.local` for them) and `HttpStore` (the client of `create_app`, the same
store behind HTTP, served by `serve` or `crowdstake store serve`). Signatures are in `auth`,
the predictions and targets formats in `formats`, datasets and their manifest in `datasets`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from eth_account.signers.local import LocalAccount

from crowdstake.errors import (InvalidDatasetError, InvalidPredictionsError, InvalidTargetsError, StoreBadRequest, StoreConflict, StoreError, StoreForbidden,
                               StoreNotFound, StoreTooLarge, StoreUnauthorized, StoreUnavailable)
from crowdstake.store.app import create_app
from crowdstake.store.auth import (AUTH_HEADER, file_hash, model_bytes, sign_dataset, sign_dataset_file, sign_score_table,
                                   sign_targets, sign_upload)
from crowdstake.store.client import HttpStore
from crowdstake.store.datasets import dataset_hash, dataset_manifest, live_ids_of, parse_manifest
from crowdstake.store.formats import (parse_live_ids, predictions_csv, read_predictions, read_targets_data,
                                      validate_predictions, validate_targets)
from crowdstake.store.local import LocalStore, register_live_ids
from crowdstake.store.onchain import (chain_clock, chain_commitments, chain_rules, committee_members, local_store_for,
                                      tournament_operators)
from crowdstake.store.workers import serve


class Store(Protocol):
    """What both backends offer; the participant, the oracle and the keeper take any `Store`."""

    def info(self) -> dict: ...
    def upload_predictions(self, account: LocalAccount, round_id: int, model_id, data: bytes) -> bytes: ...
    def put_predictions(self, data: bytes, auth: dict, round_id: int | None = None, staker: str | None = None,
                        model_id=None) -> bytes: ...
    def publish_score_table(self, account: LocalAccount, round_id: int, data: bytes) -> bytes: ...
    def put_score_table(self, data: bytes, auth: dict, round_id: int | None = None) -> bytes: ...
    def get_predictions(self, round_id: int, staker: str, model_id) -> bytes: ...
    def get_file(self, round_id: int, digest) -> bytes: ...
    def submissions(self, round_id: int) -> list[dict]: ...
    def live_ids(self, round_id: int) -> list[str]: ...
    def get_score_table(self, round_id: int, table_hash=None) -> bytes: ...
    def publish_dataset(self, account: LocalAccount, files: Mapping[str, bytes]) -> bytes: ...
    def put_dataset_file(self, data: bytes, auth: dict, file_hash=None) -> bytes: ...
    def put_manifest(self, data: bytes, auth: dict, dataset_hash=None) -> bytes: ...
    def get_manifest(self, dataset_hash) -> bytes: ...
    def get_dataset_file(self, file_hash) -> bytes: ...
    def publish_targets(self, account: LocalAccount, round_id: int, data: bytes) -> bytes: ...
    def put_targets(self, data: bytes, auth: dict, round_id: int | None = None) -> bytes: ...
    def get_targets(self, round_id: int, targets_hash=None) -> bytes: ...


__all__ = ["AUTH_HEADER", "HttpStore", "InvalidDatasetError", "InvalidPredictionsError", "InvalidTargetsError",
           "LocalStore", "Store", "StoreBadRequest", "StoreConflict", "StoreError", "StoreForbidden", "StoreNotFound",
           "StoreTooLarge", "StoreUnauthorized", "StoreUnavailable", "chain_clock", "chain_commitments", "chain_rules",
           "committee_members", "create_app", "dataset_hash", "dataset_manifest", "file_hash", "live_ids_of",
           "local_store_for", "model_bytes", "parse_live_ids", "parse_manifest", "predictions_csv", "read_predictions",
           "read_targets_data", "register_live_ids", "serve", "sign_dataset", "sign_dataset_file", "sign_score_table",
           "sign_targets", "sign_upload", "tournament_operators", "validate_predictions", "validate_targets"]
