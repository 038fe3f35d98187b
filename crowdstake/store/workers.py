"""One store directory served by several uvicorn worker processes (`serve(..., workers=N)`,
`crowdstake store serve --workers N`).

uvicorn starts each worker as a fresh process (spawn) and builds its app from an import string,
so the settings travel in one environment variable, `CROWDSTAKE_STORE_WORKER` (JSON: the
directory, the store's identity, the node's RPC URL and retry policy, the deployment record),
set by `serve` before uvicorn starts the workers, which inherit it. `app_from_environment` is
the factory each worker calls: it connects to the node, checks it is the deployment's chain and
builds the same LocalStore and app as the single-process path, with the same checks and the
same fsyncs. What the workers share is the directory (see `crowdstake.store.local`); a worker
that dies is restarted by uvicorn, and a request it was serving was either accepted (durable)
or not."""

from __future__ import annotations

import json
import os

from crowdstake.errors import ConfigError

ENV = "CROWDSTAKE_STORE_WORKER"


def worker_settings(directory, contracts, identity: str) -> str:
    """The JSON a worker builds its store from (`contracts`: a `crowdstake.chain.Contracts`)."""
    from crowdstake.chain.rpc import retry_policy

    retry = retry_policy(contracts.w3)
    return json.dumps({"directory": str(os.path.abspath(directory)), "identity": identity,
                       "rpc_url": contracts.w3.provider.endpoint_uri,
                       "retry": [retry.attempts, retry.first_delay], "deployment": contracts.deployment})


def app_from_environment():
    """The uvicorn factory of a worker: the store app from `CROWDSTAKE_STORE_WORKER`."""
    from crowdstake.chain import Contracts, connect
    from crowdstake.chain.rpc import RetryPolicy
    from crowdstake.store.app import create_app
    from crowdstake.store.local import LocalStore
    from crowdstake.store.onchain import chain_rules

    raw = os.environ.get(ENV)
    if not raw:
        raise ConfigError(f"{ENV} is not set: this is the factory of the workers `serve(..., workers=N)` starts, "
                          "which set it").with_setting("workers")
    settings = json.loads(raw)
    w3 = connect(settings["rpc_url"], RetryPolicy(*settings["retry"]))
    deployment = settings["deployment"]
    if w3.eth.chain_id != deployment["chainId"]:
        raise ConfigError(f"the node now serves chain {w3.eth.chain_id}, the store was started for chain "
                          f"{deployment['chainId']}: restart `crowdstake store serve`")
    rules = chain_rules(Contracts.of(w3, deployment))
    store = LocalStore(settings["directory"], chain_id=deployment["chainId"], identity=settings["identity"], **rules)
    return create_app(store, None, None, None)
