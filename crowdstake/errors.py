"""One exception base for the package; each subclass also inherits the matching built-in,
so callers may catch either `CrowdstakeError` or e.g. `ValueError`."""


class CrowdstakeError(Exception):
    """Base of every error crowdstake raises on purpose. Its message says what to do."""


class InvalidInputError(CrowdstakeError, ValueError):
    """Input data (a file, a table, an argument) is malformed."""


class ConfigError(CrowdstakeError, RuntimeError):
    """The environment is not set up: no deployment for this chain, no compiler, no account."""
