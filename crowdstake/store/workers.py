"""Running the store: `serve(directory, contracts, ..., workers=N)` (`crowdstake store serve`)
serves the app of `crowdstake.store.app` in this process (N = 1) or in N uvicorn worker
processes over one store directory.

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
from crowdstake.store.app import create_app
from crowdstake.store.local import LocalStore

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
    from crowdstake.store.onchain import chain_rules

    raw = os.environ.get(ENV)
    if not raw:
        raise ConfigError(f"{ENV} is not set: this is the factory of the workers `serve(..., workers=N)` starts, "
                          "which set it")
    settings = json.loads(raw)
    w3 = connect(settings["rpc_url"], RetryPolicy(*settings["retry"]))
    deployment = settings["deployment"]
    if w3.eth.chain_id != deployment["chainId"]:
        raise ConfigError(f"the node now serves chain {w3.eth.chain_id}, the store was started for chain "
                          f"{deployment['chainId']}: restart `crowdstake store serve`")
    rules = chain_rules(Contracts.of(w3, deployment))
    store = LocalStore(settings["directory"], chain_id=deployment["chainId"], identity=settings["identity"], **rules)
    return create_app(store, None, None, None)


def serve(directory, contracts, host: str = "127.0.0.1", port: int = 8700, identity: str | None = None,
          workers: int = 1) -> None:
    """Run the store service on `host:port` over `directory`, with the round times, clock,
    committee, operators and round commitments of `contracts`' chain (a
    `crowdstake.chain.Contracts`), in `workers` uvicorn processes (1: this process). Blocks."""
    import uvicorn

    from crowdstake.store.onchain import chain_rules

    if workers < 1:
        raise ConfigError(f"a store needs at least 1 worker, not {workers}").with_setting("workers")
    rules = chain_rules(contracts)
    round_times = rules["round_times"]
    # Opened here first, whatever the workers: an old replay log is moved in once, before any worker starts.
    store = LocalStore(directory, chain_id=contracts.w3.eth.chain_id, identity=identity or f"http://{host}:{port}",
                       **rules)
    if workers == 1:
        uvicorn.run(create_app(store, round_times, store.chain_id, store.identity), host=host, port=port,
                    log_level="info")
        return
    os.environ[ENV] = worker_settings(directory, contracts, store.identity)  # the spawned workers inherit it
    try:
        uvicorn.run("crowdstake.store.workers:app_from_environment", factory=True, workers=workers, host=host,
                    port=port, log_level="info")
    finally:
        os.environ.pop(ENV, None)  # this process's own settings never came from it
