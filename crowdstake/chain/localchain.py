"""A local chain the package starts itself (anvil, or ganache 7), for demos and first steps:
`with local_chain() as url: ...`. The node binaries come from npm (`make install`)."""

from __future__ import annotations

import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from web3 import Web3

from crowdstake._server import free_port
from crowdstake.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]  # the checkout, where npm put node_modules


def _binary(name: str) -> str:
    local = ROOT / "node_modules" / ".bin" / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise ConfigError(f"`{name}` not found: run `make install` (it comes from npm) or put it on PATH")
    return found


def command(kind: str, port: int, chain_id: int | None = None) -> list[str]:
    """The node's command line: 10 funded accounts, a 30M gas limit; anvil keeps no old states
    on disk (it would leave them in ~/.foundry if killed); ganache needs shanghai and a base fee
    it accepts (ganache 7 runs shanghai at most). `chain_id` replaces the node's own (31337,
    1337), as a fork of another chain would have it."""
    if kind == "anvil":
        return [_binary("anvil"), "--port", str(port), "--accounts", "10", "--gas-limit", "30000000",
                "--max-persisted-states", "0", "--silent", *(["--chain-id", str(chain_id)] if chain_id else [])]
    if kind == "ganache":
        return [_binary("ganache"), "--server.port", str(port), "--wallet.totalAccounts", "10",
                "--hardfork", "shanghai", "--miner.blockGasLimit", "30000000", "--logging.quiet",
                *(["--chain.chainId", str(chain_id)] if chain_id else [])]
    raise ConfigError(f"unknown local chain {kind!r}: use anvil or ganache")


@contextmanager
def local_chain(kind: str = "anvil", port: int | None = None, timeout: float = 60.0, chain_id: int | None = None):
    """Start a node on loopback, yield its RPC URL once it answers, stop it afterwards."""
    port = port or free_port()
    proc = subprocess.Popen(command(kind, port, chain_id), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).is_connected():
                    break
            except Exception:  # noqa: BLE001 - any failure here means "not up yet"
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ConfigError(f"{kind} did not start on port {port}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
