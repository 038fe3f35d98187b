"""crowdstake: a crowdsourced, staked prediction tournament on Ethereum.

The client surface, as numerapi's package offers its own: `Participant` (one wallet's view of
the tournament), the submission store's backends `LocalStore` and `HttpStore` (both a
`Store`), the deployed `Contracts`, and `CrowdstakeError`, the base of every error the package
raises on purpose. They are imported on first use, so `import crowdstake` (and the CLI) stay
quick."""

from importlib import import_module

from crowdstake.errors import CrowdstakeError

__version__ = "0.1.0"

_LAZY = {"Participant": "crowdstake.participant", "LocalStore": "crowdstake.store", "HttpStore": "crowdstake.store",
         "Store": "crowdstake.store", "Contracts": "crowdstake.chain"}
__all__ = ["Contracts", "CrowdstakeError", "HttpStore", "LocalStore", "Participant", "Store", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'crowdstake' has no attribute {name!r}")
