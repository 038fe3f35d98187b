"""Every exception crowdstake raises on purpose. Each also inherits the matching built-in, so
callers may catch either `CrowdstakeError` or e.g. `ValueError`. A message says what was wrong
and what to do, in the library's terms, and names no command-line flag: an error about something
the user gives carries `setting` (and `hint_values`), from which the CLI adds its flag.

    CrowdstakeError
    ├── InvalidInputError (ValueError)       a file, table or argument is malformed
    │   ├── ParticipantError                 a participant's request cannot be done as asked
    │   ├── KeeperError                      a round cannot be paid out as asked
    │   ├── FundError                        a deployer's, the fund's (datasets, targets too) or a developer's request cannot be done
    │   │   └── MissingRole (PermissionError)    the signing key lacks a contract role; the message names who holds it
    │   └── WrongPasswordError               the password does not decrypt the wallet
    ├── ConfigError (RuntimeError)           the setup is missing something: a deployment, a binary, a setting
    │   ├── MissingSetting                   a needed setting was not given; `.setting` names it
    │   ├── UnknownWalletError (LookupError)
    │   ├── WalletExistsError (FileExistsError)
    │   └── NotADevChain                     a dev command on a chain that is not a local anvil or ganache
    ├── NodeUnavailable (ConnectionError)    the Ethereum node does not answer (after the retries)
    ├── TransactionFailed (RuntimeError)     a transaction reverted; `.error` names the custom error
    ├── TransactionPending (TimeoutError)    sent, not mined yet; running again keeps waiting
    ├── OracleError (RuntimeError)           a round cannot be scored or voted as asked
    │   └── ResultsTooLate                   a result voted now could not be finalised in time
    └── StoreError (RuntimeError)            the submission store refused; `.status` is its HTTP status
        ├── StoreBadRequest (ValueError)         400
        ├── StoreUnauthorized (PermissionError)  401
        ├── StoreForbidden (PermissionError)     403
        ├── StoreNotFound (LookupError)          404
        ├── StoreConflict                        409
        ├── StoreTooLarge (ValueError)           413
        ├── InvalidPredictionsError              422 (also an InvalidInputError)
        ├── InvalidDatasetError                  422: a dataset's files or manifest (also an InvalidInputError)
        ├── InvalidTargetsError                  422: a targets file (also an InvalidInputError)
        └── StoreUnavailable (ConnectionError)   503: the store, or the chain behind it, does not answer
"""

from typing import Self


class CrowdstakeError(Exception):
    """Base of every error crowdstake raises on purpose. Its message says what to do; `setting`,
    when set, names what the user gives that is to change ("node", "store", "wallet", "members",
    "targets", ...) and `hint_values` the values a hint may quote (a round, a path), for the CLI
    to add its flag (`crowdstake.cli.FLAG_HINTS`)."""

    setting: str | None = None
    hint_values: dict = {}  # never mutated: `with_setting` gives an instance its own

    def with_setting(self, setting: str, **hint_values) -> Self:
        """This error, naming the `setting` to change (and values for its hint); returns it, to raise."""
        self.setting, self.hint_values = setting, hint_values
        return self


class InvalidInputError(CrowdstakeError, ValueError):
    """Input data (a file, a table, an argument) is malformed."""


class ConfigError(CrowdstakeError, RuntimeError):
    """The environment is not set up: no deployment for this chain, no compiler, no account."""


class MissingSetting(ConfigError):
    """A setting the operation needs was not given (`setting`: "store", "wallet", ...)."""

    def __init__(self, message: str, setting: str):
        super().__init__(message)
        self.setting = setting


class NodeUnavailable(CrowdstakeError, ConnectionError):
    """The Ethereum node did not answer, after the retry policy's attempts."""

    setting = "node"


class TransactionFailed(CrowdstakeError, RuntimeError):
    """A transaction (or its simulation) reverted; `error` is the contract's custom error name
    and `error_args` its arguments (None and () when the revert is not one of ours)."""

    def __init__(self, message: str, error: str | None = None, args: tuple = ()):
        super().__init__(message)
        self.error, self.error_args = error, args


class TransactionPending(CrowdstakeError, TimeoutError):
    """A sent transaction is still not mined; running again keeps waiting for it."""


class ParticipantError(InvalidInputError):
    """A participant's request cannot be done as asked; the message says why and what to do.
    When the contract refused, `error`/`error_args` keep its decoded custom error."""

    def __init__(self, message: str, error: str | None = None, args: tuple = ()):
        super().__init__(message)
        self.error, self.error_args = error, args


class KeeperError(InvalidInputError):
    """A finalised round cannot be paid out as asked; the message says why and what to do."""


class FundError(InvalidInputError):
    """A deployment, one of the fund's operations (publishing a dataset or a round's targets
    included), a token transfer or a dev-chain helper cannot be done as asked; nothing was sent.
    When the contract refused, `error`/`error_args` keep its decoded custom error."""

    def __init__(self, message: str, error: str | None = None, args: tuple = ()):
        super().__init__(message)
        self.error, self.error_args = error, args


class MissingRole(FundError, PermissionError):
    """The signing key does not hold the contract role the operation needs; the message names the
    role and the address that holds it."""


class OracleError(CrowdstakeError, RuntimeError):
    """The round cannot be scored or voted as asked; the message says why."""


class ResultsTooLate(OracleError):
    """A result voted now could no longer be finalised before the round's results deadline."""


class WrongPasswordError(InvalidInputError):
    """The password does not decrypt the wallet."""


class UnknownWalletError(ConfigError, LookupError):
    """No wallet of that name in the wallet directory."""


class WalletExistsError(ConfigError, FileExistsError):
    """A wallet of that name exists already (it is never overwritten)."""


class NotADevChain(ConfigError):
    """A command for local dev chains (time travel, the node's unlocked accounts) was pointed at a
    chain that is not anvil or ganache with its own chain id."""


class StoreError(CrowdstakeError, RuntimeError):
    """The store refused a request; `status` is the HTTP status it answers with."""

    status = 500

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class StoreBadRequest(StoreError, ValueError):
    """The request does not match what it claims (chain, store, round, model, hash, fields)."""

    status = 400


class StoreUnauthorized(StoreError, PermissionError):
    """The signature is expired or not by the account the request names."""

    status = 401


class StoreForbidden(StoreError, PermissionError):
    """Not now or not you: round not open for uploads, round still open for reading, not a publisher."""

    status = 403


class StoreNotFound(StoreError, LookupError):
    """No such round, file or table."""

    status = 404


class StoreConflict(StoreError):
    """Replayed signature, or the round cannot take uploads yet (no live ids)."""

    status = 409


class StoreTooLarge(StoreError, ValueError):
    """The body is over the store's size limit."""

    status = 413


class InvalidPredictionsError(InvalidInputError, StoreError):
    """The predictions file is malformed; the message names the first bad line."""

    status = 422


class InvalidDatasetError(InvalidInputError, StoreError):
    """A dataset's files or its manifest are malformed or incomplete; the message names the file."""

    status = 422


class InvalidTargetsError(InvalidInputError, StoreError):
    """A targets file is malformed; the message names the first bad line."""

    status = 422


class StoreUnavailable(StoreError, ConnectionError):
    """The store does not answer, or cannot read the chain it serves: try again later."""

    status = 503


STORE_ERRORS_BY_STATUS = {c.status: c for c in (StoreBadRequest, StoreUnauthorized, StoreForbidden, StoreNotFound,
                                                StoreConflict, StoreTooLarge, InvalidPredictionsError, StoreUnavailable)}
