"""The client side both stores share: sign a request as the store's `info()` names it (its
chain, its identity, its clock for the expiry), then send it with the store's own `put_*`."""

from __future__ import annotations

from crowdstake.store.auth import (DEFAULT_TTL, sign_dataset, sign_dataset_file, sign_score_table, sign_targets,
                                   sign_upload)
from crowdstake.store.datasets import dataset_manifest


class SignedRequests:
    """Mixed into LocalStore and HttpStore, which provide `info()` and the `put_*` methods."""

    def upload_predictions(self, account, round_id: int, model_id, data: bytes, ttl: int = DEFAULT_TTL) -> bytes:
        """Sign and upload a predictions file; returns its hash (commit it with `submit`)."""
        info = self.info()
        auth = sign_upload(account, info["chainId"], info["identity"], round_id, model_id, data, info["now"] + ttl)
        return self.put_predictions(bytes(data), auth)

    def publish_score_table(self, account, round_id: int, data: bytes, ttl: int = DEFAULT_TTL) -> bytes:
        info = self.info()
        auth = sign_score_table(account, info["chainId"], info["identity"], round_id, data, info["now"] + ttl)
        return self.put_score_table(bytes(data), auth)

    def publish_dataset(self, account, files, ttl: int = DEFAULT_TTL) -> bytes:
        """Check a dataset's files (`crowdstake.store.datasets`), sign and upload each, then its
        manifest; returns the dataset hash (what `openRound` commits). The same files again
        change nothing."""
        manifest = dataset_manifest(files)
        info = self.info()
        expiry = info["now"] + ttl
        for name in sorted(files):
            data = bytes(files[name])
            self.put_dataset_file(data, sign_dataset_file(account, info["chainId"], info["identity"], data, expiry))
        return self.put_manifest(manifest, sign_dataset(account, info["chainId"], info["identity"], manifest, expiry))

    def publish_targets(self, account, round_id: int, data: bytes, ttl: int = DEFAULT_TTL) -> bytes:
        """Sign and upload a round's targets (`id,target`); returns their hash (what
        `Tournament.publishTargets` commits)."""
        info = self.info()
        auth = sign_targets(account, info["chainId"], info["identity"], round_id, data, info["now"] + ttl)
        return self.put_targets(bytes(data), auth)
