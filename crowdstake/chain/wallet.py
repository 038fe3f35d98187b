"""Wallets: encrypted keystore files (Web3 Secret Storage, as geth and eth-account write them) in a
per-user directory (default `~/.crowdstake/wallets`; the CLI's settings may name another), one
`<name>.json` per wallet, mode 0600 in a 0700 directory, written atomically.

No key or password is ever printed, logged, put in an exception message or written in clear.
A raw private key is read only from an environment variable the caller names explicitly."""

from __future__ import annotations

import getpass
import json
import os
import re
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from crowdstake._fs import write_once
from crowdstake.errors import ConfigError, InvalidInputError, UnknownWalletError, WalletExistsError, WrongPasswordError

PASSWORD_ENV = "CROWDSTAKE_PASSWORD"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


DEFAULT_DIR = Path("~") / ".crowdstake" / "wallets"


def _dir(directory: Path | str | None) -> Path:
    return Path(directory or DEFAULT_DIR).expanduser()


def _path(name: str, directory: Path | str | None) -> Path:
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith(".json"):
        raise InvalidInputError(
            f"wallet name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return _dir(directory) / f"{name}.json"


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not password:
        raise InvalidInputError("an empty password would leave the key unprotected: choose a password")


def _write_new(path: Path, keystore: dict) -> None:
    """Create `path` with `keystore`, mode 0600, in a directory only its owner reads: the file
    appears whole or not at all, and an existing file is never replaced (`_fs.write_once`)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    if not write_once(path, json.dumps(keystore).encode(), mode=0o600):
        raise WalletExistsError(
            f"a wallet named '{path.stem}' exists already: choose another name (see `crowdstake wallet list`)")


def _save(name: str, key: bytes, password: str, kdf: str | None, iterations: int | None,
          directory: Path | str | None) -> str:
    path = _path(name, directory)
    _check_password(password)
    if path.exists():
        raise WalletExistsError(f"a wallet named '{name}' exists already: choose another name (see `crowdstake wallet list`)")
    account = Account.from_key(key)
    keystore = Account.encrypt(key, password, kdf=kdf, iterations=iterations)
    _write_new(path, keystore)
    return account.address


def new_wallet(name: str, password: str, *, kdf: str | None = None, iterations: int | None = None,
               directory: Path | str | None = None) -> str:
    """Create a wallet from a fresh random key; returns its address (the key never leaves the file)."""
    import secrets

    return _save(name, secrets.token_bytes(32), password, kdf, iterations, directory)


def _key_bytes(private_key) -> bytes:
    if isinstance(private_key, str):
        text = private_key.strip().removeprefix("0x")
        try:
            private_key = bytes.fromhex(text)
        except ValueError:
            raise InvalidInputError("the private key is not hex: expected 64 hex digits (optionally 0x-prefixed)") from None
    key = bytes(private_key)
    if len(key) != 32:
        raise InvalidInputError(f"a private key is 32 bytes (64 hex digits), this one is {len(key)} bytes")
    try:
        Account.from_key(key)
    except Exception:  # noqa: BLE001 - eth-keys may echo the value: never pass it on
        raise InvalidInputError("the private key is not a valid secp256k1 key") from None
    return key


def import_wallet(name: str, private_key: bytes | str, password: str, *, kdf: str | None = None,
                  iterations: int | None = None, directory: Path | str | None = None) -> str:
    """Store an existing key (bytes or hex) encrypted under `name`; returns its address."""
    return _save(name, _key_bytes(private_key), password, kdf, iterations, directory)


def list_wallets(directory: Path | str | None = None) -> list[tuple[str, str]]:
    """(name, checksummed address) of every wallet, by name; reads no key."""
    directory = _dir(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            address = to_checksum_address("0x" + json.loads(path.read_text())["address"].removeprefix("0x"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not a keystore: not ours to list
        found.append((path.stem, address))
    return found


def wallet_address(name: str, directory: Path | str | None = None) -> str:
    """A wallet's checksummed address; reads no key."""
    found = dict(list_wallets(directory))
    if name not in found:
        raise UnknownWalletError(f"no wallet named '{name}' in {_dir(directory)}: see `crowdstake wallet list`")
    return found[name]


def load_wallet(name: str, password: str, directory: Path | str | None = None) -> LocalAccount:
    """Decrypt a wallet into an account that can sign."""
    path = _path(name, directory)
    try:
        keystore = json.loads(path.read_text())
    except FileNotFoundError:
        raise UnknownWalletError(f"no wallet named '{name}' in {path.parent}: see `crowdstake wallet list`") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"wallet file {path} is unreadable ({e.__class__.__name__}): restore it from a backup") from None
    try:
        key = Account.decrypt(keystore, password)
    except ValueError:
        raise WrongPasswordError(f"wrong password for wallet '{name}'") from None
    except (KeyError, TypeError):
        raise ConfigError(f"wallet file {path} is not a keystore: restore it from a backup") from None
    return Account.from_key(key)


def password_from(env_var: str = PASSWORD_ENV, prompt: bool = True, confirm: bool = False) -> str:
    """The wallet password: from `env_var` when it is set and not empty, else asked on the
    terminal (twice when `confirm`), never echoed."""
    value = os.environ.get(env_var) if env_var else None
    if value:
        return value
    if not prompt:
        raise ConfigError(f"no wallet password: set {env_var} or run interactively to be asked")
    try:
        password = getpass.getpass("wallet password: ")
        if confirm and getpass.getpass("again: ") != password:
            raise InvalidInputError("the two passwords differ: nothing was changed, try again")
    except (EOFError, KeyboardInterrupt):
        raise ConfigError(f"no wallet password given: set {env_var} or type it at the prompt") from None
    if not password:
        raise InvalidInputError("empty password: nothing was changed")
    return password


def account_from_env(var: str) -> LocalAccount:
    """An account from a raw private key in the environment variable named `var` (and only there:
    there is no default variable, the caller must name it)."""
    if not var:
        raise ConfigError("name the environment variable that holds the private key")
    value = os.environ.get(var)
    if not value:
        raise ConfigError(f"environment variable {var} is not set: export the private key there, or use a wallet")
    try:
        key = _key_bytes(value)
    except InvalidInputError as e:
        raise InvalidInputError(f"environment variable {var}: {e}") from None
    return Account.from_key(key)
