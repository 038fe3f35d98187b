"""crowdstake: a crowdsourced, staked prediction tournament on Ethereum.

The client surface, as numerapi's package offers its own: `Participant` (one wallet's view of
the tournament), the submission store's backends `LocalStore` and `HttpStore` (both a
`Store`), the deployed `Contracts`, and `CrowdstakeError`, the base of every error the package
raises on purpose. The classes behind the other roles' commands are here too: `Fund` (the
fund's operations), `Tokens` (transfers and balances), `Deployer` (`crowdstake deploy`) and
`DevChain` (a dev chain's accounts, funding and clock). They are imported on first use, so
`import crowdstake` (and the CLI) stay quick."""

from importlib import import_module

from crowdstake.errors import CrowdstakeError

__version__ = "0.1.0"

_LAZY = {"Participant": "crowdstake.participant", "LocalStore": "crowdstake.store", "HttpStore": "crowdstake.store",
         "Store": "crowdstake.store", "Contracts": "crowdstake.chain", "Fund": "crowdstake.fund.operations",
         "Tokens": "crowdstake.tokens", "Deployer": "crowdstake.chain.deploy", "DevChain": "crowdstake.chain.devchain"}
__all__ = ["Contracts", "CrowdstakeError", "Deployer", "DevChain", "Fund", "HttpStore", "LocalStore", "Participant",
           "Store", "Tokens", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'crowdstake' has no attribute {name!r}")
