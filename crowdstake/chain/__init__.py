"""The package's way to a chain, without brownie: a retrying web3 connection (`rpc`), signed
transactions with decoded custom errors (`tx`), deployment records and shipped artifacts
(`deployments`), the deployed contracts and their typed reads (`contracts`), brownie's network
names (`networks`), deploying (`deploy`), local dev chains (`localchain`), wallets and permits."""

from crowdstake.chain.contracts import Contracts
from crowdstake.chain.deployments import load_artifact, load_deployment, save_deployment
from crowdstake.chain.rpc import DEFAULT_RETRY, RetryPolicy, connect, redacted, retry_policy, with_retries
from crowdstake.chain.tx import broadcast, decode_revert, prepare, send, wait_for
from crowdstake.errors import NodeUnavailable, TransactionFailed, TransactionPending

__all__ = ["Contracts", "DEFAULT_RETRY", "NodeUnavailable", "RetryPolicy", "TransactionFailed", "TransactionPending",
           "broadcast", "connect", "decode_revert", "load_artifact", "load_deployment", "prepare", "redacted", "retry_policy",
           "save_deployment", "send", "wait_for", "with_retries"]
