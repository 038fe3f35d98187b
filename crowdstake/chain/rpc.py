"""The way to a node: a web3 connection whose every request is retried while the node is down
or restarting, under a retry policy the caller passes in (the CLI builds it from
`--rpc-retries`/`--rpc-backoff`); after the last attempt, `NodeUnavailable`."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3Exception

from crowdstake.errors import ConfigError, NodeUnavailable

# A node that is down, restarting, or cut off mid-answer.
RETRYABLE = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait out a node that is down or restarting: `attempts` tries, the first
    retry after `first_delay` seconds, each next one after twice as long (~15 s by default)."""

    attempts: int = 6
    first_delay: float = 0.5

    def __post_init__(self):
        if self.attempts < 1 or not self.first_delay >= 0:
            raise ConfigError(f"retries need at least 1 attempt and a delay >= 0, "
                              f"got {self.attempts} and {self.first_delay}")


DEFAULT_RETRY = RetryPolicy()
_retrying: ContextVar[bool] = ContextVar("retrying", default=False)


def redacted(url: str) -> str:
    """`url` without its path and query, where providers put API keys: safe to print."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}" if parts.hostname else url


def retry_policy(w3: Web3) -> RetryPolicy:
    """The policy `w3` was connected with (`connect`), else the default."""
    return getattr(w3.provider, "retry", DEFAULT_RETRY)


def with_retries(fn, *args, policy: RetryPolicy = DEFAULT_RETRY, what: str = "the node", **kwargs):
    """Call `fn`, retrying connection failures and timeouts with exponential backoff under
    `policy`; after the last attempt, NodeUnavailable. Anything else is raised at once. Nested
    calls (every request of `connect`'s provider is one) try once and leave the retrying to the
    outermost, so one operation has one budget, not a product."""
    if _retrying.get():
        return fn(*args, **kwargs)
    token = _retrying.set(True)
    try:
        for attempt in range(policy.attempts):
            try:
                return fn(*args, **kwargs)
            except RETRYABLE as e:
                if attempt == policy.attempts - 1:
                    raise NodeUnavailable(f"{getattr(e, 'node', what)} did not answer after {policy.attempts} "
                                          f"attempts ({e.__class__.__name__}): check the node, then run again") from None
                time.sleep(policy.first_delay * 2**attempt)
    finally:
        _retrying.reset(token)


class _RetryingHTTPProvider(HTTPProvider):
    """web3's HTTP provider with the package's retry policy on every request, sends included
    (resending a signed transaction is harmless), instead of web3's own for reads only."""

    def __init__(self, url: str, retry: RetryPolicy, **kwargs):
        super().__init__(url, exception_retry_configuration=None, **kwargs)
        self.retry = retry

    def make_request(self, method, params):
        where = f"the node at {redacted(self.endpoint_uri)}"
        try:
            return with_retries(super().make_request, method, params, policy=self.retry, what=where)
        except RETRYABLE as e:  # an outer with_retries owns the budget: tell its message which node
            e.node = where
            raise


def connect(rpc_url: str, retry: RetryPolicy = DEFAULT_RETRY, timeout: float = 30.0) -> Web3:
    """A web3 connection to `rpc_url` whose every request is retried on connection faults under
    `retry` (see `with_retries`), or NodeUnavailable saying the node is not reachable."""
    w3 = Web3(_RetryingHTTPProvider(rpc_url, retry, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id
    except NodeUnavailable:
        raise NodeUnavailable(f"cannot reach an Ethereum node at {redacted(rpc_url)} after {retry.attempts} "
                              "attempts: start one, or point crowdstake at the right node") from None
    except (OSError, Web3Exception, ValueError) as e:
        raise NodeUnavailable(f"cannot reach an Ethereum node at {redacted(rpc_url)} ({e.__class__.__name__}): "
                              "start one, or point crowdstake at the right node") from None
    return w3
