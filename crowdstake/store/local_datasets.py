"""A store directory's datasets: files content-addressed under `datasets/files/<hash>`, each
dataset's manifest under `datasets/manifests/<datasetHash>.csv`, written once by rename
(`_fs.atomic_write`), served to anyone at any time. Uploads are an operator's, signed as every
upload is: each file first, then the manifest, accepted once every file it lists is here, with
its size, and is what its name says.

`LocalDatasets` is the part of `crowdstake.store.local.LocalStore` that does this: it uses the
store's `directory`, `max_dataset_bytes`, request check (`_verify`), operator check
(`_require_operator`) and replay memory (`_replay`)."""

from __future__ import annotations

from pathlib import Path

from crowdstake._fs import atomic_write
from crowdstake.errors import InvalidDatasetError, StoreConflict, StoreNotFound
from crowdstake.store.auth import _bytes32, _hex
from crowdstake.store.datasets import check_file, parse_manifest


class LocalDatasets:
    """A LocalStore's datasets (see the module)."""

    def _datasets(self) -> Path:
        return self.directory / "datasets"

    def _dataset_path(self, digest: bytes) -> Path:
        return self._datasets() / "files" / digest.hex()

    def _manifest_path(self, digest: bytes) -> Path:
        return self._datasets() / "manifests" / f"{digest.hex()}.csv"

    def put_dataset_file(self, data: bytes, auth: dict, file_hash=None) -> bytes:
        """Accept one file of a dataset from an operator (the server's side of
        `publish_dataset`); `file_hash` is what the URL says. Returns the file's hash."""
        extra = {"fileHash": _bytes32(file_hash, "file hash") if file_hash is not None else None}
        msg, now = self._verify("datasetFile", bytes(data), auth, None, extra, max_bytes=self.max_dataset_bytes)
        self._require_operator(msg["publisher"], "dataset files")
        self._replay.remember(msg["digest"], msg["expiry"], now)
        digest = msg["fileHash"]
        path = self._dataset_path(digest)
        if not path.exists():
            atomic_write(path, bytes(data))
        return digest

    def put_manifest(self, data: bytes, auth: dict, dataset_hash=None) -> bytes:
        """Accept a dataset's manifest from an operator once every file it lists is here, with its
        size, and is what its name says. Returns the dataset hash."""
        extra = {"datasetHash": _bytes32(dataset_hash, "dataset hash") if dataset_hash is not None else None}
        msg, now = self._verify("dataset", bytes(data), auth, None, extra)
        self._require_operator(msg["publisher"], "datasets")
        self._replay.remember(msg["digest"], msg["expiry"], now)
        for entry in parse_manifest(data):
            path = self._dataset_path(entry.hash)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise StoreConflict(f"the manifest lists {entry.name} ({_hex(entry.hash)}), which is not in this store: "
                                    "upload each file first (publish_dataset does)") from None
            if size != entry.size:
                raise InvalidDatasetError(f"the manifest gives {entry.name} {entry.size:,} bytes, the file with its "
                                          f"hash has {size:,}")
            if entry.name.endswith(".csv") and entry.name != "live.csv":
                with open(path, "rb") as f:
                    check_file(entry.name, f.read(65536))  # a header is all a train or validation file is checked for
            else:
                check_file(entry.name, path.read_bytes())
        digest = msg["datasetHash"]
        path = self._manifest_path(digest)
        if not path.exists():
            atomic_write(path, bytes(data))
        return digest

    def get_manifest(self, dataset_hash) -> bytes:
        """A dataset's manifest by its hash (anyone, any time)."""
        h = _bytes32(dataset_hash, "dataset hash")
        try:
            return self._manifest_path(h).read_bytes()
        except FileNotFoundError:
            raise StoreNotFound(f"no dataset with hash {_hex(h)} in this store") from None

    def get_dataset_file(self, file_hash) -> bytes:
        """A dataset file by its hash (anyone, any time)."""
        h = _bytes32(file_hash, "file hash")
        try:
            return self._dataset_path(h).read_bytes()
        except FileNotFoundError:
            raise StoreNotFound(f"no dataset file with hash {_hex(h)} in this store") from None
