"""crowdstake: a crowdsourced, staked prediction tournament on Ethereum."""

from crowdstake.errors import CrowdstakeError

__all__ = ["CrowdstakeError"]
__version__ = "0.1.0"
