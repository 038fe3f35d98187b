"""The store's HTTP client: the same methods as LocalStore's client side, over the service.

A store that refuses the connection (not started yet, restarting) is tried again a few times
with a doubling pause (`CONNECT_RETRIES`, ~4 s in all) before StoreUnavailable; every request is
safe to repeat (uploads are content-addressed, the same bytes again change nothing). A store
that answers slowly is not retried: the request's timeout is the limit."""

from __future__ import annotations

import json
import threading
import time

from crowdstake.errors import (STORE_ERRORS_BY_STATUS, ConfigError, InvalidDatasetError, InvalidTargetsError, StoreError,
                               StoreUnavailable)
from crowdstake.store.auth import AUTH_HEADER, _bytes32, _hex, model_bytes
from crowdstake.store.formats import parse_live_ids
from crowdstake.store.signing import SignedRequests

CONNECT_RETRIES, CONNECT_BACKOFF = 4, 0.25  # seconds before the first retry, doubling


class HttpStore(SignedRequests):
    """Client of a store service: the same methods as LocalStore's client side.

    `chain_id`/`identity`, when given, are checked against the service's /info (a store for
    another chain is refused before anything is signed)."""

    def __init__(self, base_url: str, *, chain_id: int | None = None, identity: str | None = None,
                 timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._expect = (chain_id, identity)
        self._local = threading.local()
        self._identity: tuple[int, str] | None = None

    @property
    def _session(self):
        import requests

        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _request(self, method: str, path: str, invalid: type[StoreError] | None = None, **kwargs):
        """`invalid`: the error a 422 is on this route (a malformed predictions file, by default)."""
        import requests

        url = self.base_url + path
        for attempt in range(CONNECT_RETRIES + 1):
            try:
                response = self._session.request(method, url, timeout=self.timeout, **kwargs)
                break
            except requests.ConnectionError as e:
                failure = e
                if attempt < CONNECT_RETRIES and not isinstance(e, requests.exceptions.ConnectTimeout):
                    time.sleep(CONNECT_BACKOFF * 2**attempt)
                    continue
            except requests.RequestException as e:
                failure = e
            unreachable = StoreUnavailable(f"cannot reach the submission store at {self.base_url} "
                                           f"({failure.__class__.__name__}): start it (`crowdstake store serve`), "
                                           "or point crowdstake at the right store")
            unreachable.setting = "store"  # this store is not there (a 503 is the store's own trouble)
            raise unreachable from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            if not isinstance(detail, str):  # FastAPI's own validation errors: a list
                detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail) \
                    if isinstance(detail, list) else str(detail)
            cls = (invalid if invalid and response.status_code == 422 else None) or \
                STORE_ERRORS_BY_STATUS.get(response.status_code, StoreError)
            raise cls(f"the store refused ({response.status_code}): {detail}", response.status_code)
        return response

    def info(self) -> dict:
        info = self._request("GET", "/info").json()
        chain_id, identity = self._expect
        if chain_id is not None and info["chainId"] != chain_id:
            raise ConfigError(f"the store at {self.base_url} serves chain {info['chainId']}, not chain {chain_id}: use another store")
        if identity is not None and info["identity"] != identity:
            raise ConfigError(f"the store at {self.base_url} is {info['identity']!r}, not {identity!r}")
        return info

    def put_predictions(self, data: bytes, auth: dict, round_id: int | None = None, staker: str | None = None,
                        model_id=None) -> bytes:
        """Send an already signed upload (the URL names what `auth` says unless overridden)."""
        rid = auth.get("roundId") if round_id is None else round_id
        who = auth.get("staker") if staker is None else staker
        mid = auth.get("modelId") if model_id is None else (_hex(model_id) if isinstance(model_id, bytes) else model_id)
        r = self._request("PUT", f"/rounds/{rid}/predictions/{who}/{mid}", data=bytes(data),
                          headers={AUTH_HEADER: json.dumps(auth), "Content-Type": "text/csv"})
        return bytes.fromhex(r.json()["hash"][2:])

    def put_score_table(self, data: bytes, auth: dict, round_id: int | None = None) -> bytes:
        rid = auth.get("roundId") if round_id is None else round_id
        r = self._request("PUT", f"/rounds/{rid}/score-table", data=bytes(data),
                          headers={AUTH_HEADER: json.dumps(auth), "Content-Type": "text/csv"})
        return bytes.fromhex(r.json()["hash"][2:])

    def get_predictions(self, round_id: int, staker: str, model_id) -> bytes:
        return self._request("GET", f"/rounds/{int(round_id)}/predictions/{staker}/{_hex(model_bytes(model_id))}").content

    def get_file(self, round_id: int, digest) -> bytes:
        h = _hex(digest) if isinstance(digest, bytes) else digest
        return self._request("GET", f"/rounds/{int(round_id)}/files/{h}").content

    def submissions(self, round_id: int) -> list[dict]:
        return self._request("GET", f"/rounds/{int(round_id)}/submissions").json()

    def live_ids(self, round_id: int) -> list[str]:
        return parse_live_ids(self._request("GET", f"/rounds/{int(round_id)}/live-ids").content)

    def get_score_table(self, round_id: int, table_hash=None) -> bytes:
        suffix = "" if table_hash is None else "/" + (_hex(table_hash) if isinstance(table_hash, bytes) else table_hash)
        return self._request("GET", f"/rounds/{int(round_id)}/score-table{suffix}").content

    def put_dataset_file(self, data: bytes, auth: dict, file_hash=None) -> bytes:
        digest = auth.get("fileHash") if file_hash is None else _hex(_bytes32(file_hash, "file hash"))
        r = self._request("PUT", f"/datasets/files/{digest}", invalid=InvalidDatasetError, data=bytes(data),
                          headers={AUTH_HEADER: json.dumps(auth), "Content-Type": "application/octet-stream"})
        return bytes.fromhex(r.json()["hash"][2:])

    def put_manifest(self, data: bytes, auth: dict, dataset_hash=None) -> bytes:
        digest = auth.get("datasetHash") if dataset_hash is None else _hex(_bytes32(dataset_hash, "dataset hash"))
        r = self._request("PUT", f"/datasets/{digest}", invalid=InvalidDatasetError, data=bytes(data),
                          headers={AUTH_HEADER: json.dumps(auth), "Content-Type": "text/csv"})
        return bytes.fromhex(r.json()["hash"][2:])

    def put_targets(self, data: bytes, auth: dict, round_id: int | None = None) -> bytes:
        rid = auth.get("roundId") if round_id is None else round_id
        r = self._request("PUT", f"/rounds/{rid}/targets", invalid=InvalidTargetsError, data=bytes(data),
                          headers={AUTH_HEADER: json.dumps(auth), "Content-Type": "text/csv"})
        return bytes.fromhex(r.json()["hash"][2:])

    def get_manifest(self, dataset_hash) -> bytes:
        return self._request("GET", f"/datasets/{_hex(_bytes32(dataset_hash, 'dataset hash'))}").content

    def get_dataset_file(self, file_hash) -> bytes:
        return self._request("GET", f"/datasets/files/{_hex(_bytes32(file_hash, 'file hash'))}").content

    def get_targets(self, round_id: int, targets_hash=None) -> bytes:
        suffix = "" if targets_hash is None else "/" + _hex(_bytes32(targets_hash, "targets hash"))
        return self._request("GET", f"/rounds/{int(round_id)}/targets{suffix}").content
