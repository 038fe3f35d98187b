"""The submission store: where participants upload predictions before a round closes, where
everyone reads them after it closed, and where the oracle publishes score tables.

Two backends with one interface, `Store`: `LocalStore` (a directory; every rule lives there,
see `crowdstake.store.local` for them) and `HttpStore` (the client of `create_app`, the same
store behind HTTP, served by `serve` or `crowdstake store serve`). Signatures are in `auth`,
the predictions format in `formats`."""

from __future__ import annotations

from typing import Protocol

from eth_account.signers.local import LocalAccount

from crowdstake.errors import (InvalidPredictionsError, StoreBadRequest, StoreConflict, StoreError, StoreForbidden,
                               StoreNotFound, StoreTooLarge, StoreUnauthorized, StoreUnavailable)
from crowdstake.store.app import create_app, serve
from crowdstake.store.auth import AUTH_HEADER, file_hash, model_bytes, sign_score_table, sign_upload
from crowdstake.store.client import HttpStore
from crowdstake.store.formats import parse_live_ids, predictions_csv, read_predictions, validate_predictions
from crowdstake.store.local import LocalStore, chain_clock, committee_members, local_store_for, register_live_ids


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


__all__ = ["AUTH_HEADER", "HttpStore", "InvalidPredictionsError", "LocalStore", "Store", "StoreBadRequest",
           "StoreConflict", "StoreError", "StoreForbidden", "StoreNotFound", "StoreTooLarge", "StoreUnauthorized",
           "StoreUnavailable", "chain_clock", "committee_members", "create_app", "file_hash", "local_store_for",
           "model_bytes", "parse_live_ids", "predictions_csv", "read_predictions", "register_live_ids", "serve",
           "sign_score_table", "sign_upload", "validate_predictions"]
