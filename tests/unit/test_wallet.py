"""Wallets: encrypted keystores in ~/.crowdstake/wallets (or a directory given), never a key or password in clear."""

import json
import os
import stat

import pytest
from eth_account import Account

from crowdstake import _fs
from crowdstake.chain import wallet
from crowdstake.errors import ConfigError, CrowdstakeError, InvalidInputError

FAST = {"kdf": "pbkdf2", "iterations": 2}  # the format is the same; scrypt's cost is not under test
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """The default wallet directory, ~/.crowdstake/wallets, under a fresh HOME."""
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("CROWDSTAKE_PASSWORD", raising=False)
    return tmp_path / "user" / ".crowdstake"


def test_new_wallet_loads_back_with_its_password():
    address = wallet.new_wallet("w", PASSWORD)  # default kdf (scrypt), as users get it
    assert wallet.load_wallet("w", PASSWORD).address == address


def test_import_wallet_keeps_the_key():
    address = wallet.import_wallet("imp", "0x" + KEY.hex(), PASSWORD, **FAST)
    loaded = wallet.load_wallet("imp", PASSWORD)
    assert address == Account.from_key(KEY).address
    assert loaded.key == KEY


def test_list_wallets_gives_names_and_addresses_by_name():
    b = wallet.new_wallet("bravo", PASSWORD, **FAST)
    a = wallet.import_wallet("alpha", KEY, PASSWORD, **FAST)
    assert wallet.list_wallets() == [("alpha", a), ("bravo", b)]


def test_list_wallets_is_empty_without_a_directory(home):
    assert not home.exists()
    assert wallet.list_wallets() == []


def test_wrong_password_is_a_clear_error():
    wallet.new_wallet("w", PASSWORD, **FAST)
    with pytest.raises(wallet.WrongPasswordError, match=r"^wrong password for wallet 'w'$") as caught:
        wallet.load_wallet("w", "not it")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, CrowdstakeError)


def test_unknown_wallet_says_how_to_list_them():
    with pytest.raises(wallet.UnknownWalletError, match=r"no wallet named 'ghost'.*crowdstake wallet list"):
        wallet.load_wallet("ghost", PASSWORD)


def test_existing_name_is_refused_and_the_wallet_kept(home):
    first = wallet.new_wallet("w", PASSWORD, **FAST)
    before = (home / "wallets" / "w.json").read_bytes()
    with pytest.raises(wallet.WalletExistsError, match="a wallet named 'w' exists already"):
        wallet.import_wallet("w", KEY, PASSWORD, **FAST)
    assert (home / "wallets" / "w.json").read_bytes() == before
    assert wallet.load_wallet("w", PASSWORD).address == first


def test_a_wallet_created_between_the_check_and_the_write_is_kept(home):
    """The write itself refuses an existing name (a hard link), not only the check before it."""
    wallet.new_wallet("w", PASSWORD, **FAST)
    path = home / "wallets" / "w.json"
    before = path.read_bytes()
    with pytest.raises(wallet.WalletExistsError, match="a wallet named 'w' exists already"):
        wallet._write_new(path, {"other": "keystore"})
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["w.json"]


def test_keystore_holds_neither_key_nor_password_in_clear(home):
    wallet.import_wallet("w", KEY, PASSWORD, **FAST)
    raw = (home / "wallets" / "w.json").read_bytes()
    assert KEY.hex().encode() not in raw.lower()
    assert KEY not in raw
    assert PASSWORD.encode() not in raw
    assert json.loads(raw)["crypto"]["ciphertext"]  # Web3 Secret Storage


def test_keystore_file_is_private(home):
    wallet.new_wallet("w", PASSWORD, **FAST)
    assert stat.S_IMODE(os.stat(home / "wallets" / "w.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home / "wallets").st_mode) == 0o700


def test_failed_write_leaves_no_file(home, monkeypatch):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_fs.os, "fsync", crash)  # the keystore's bytes are in the temporary file, not synced
    with pytest.raises(OSError, match="disk full"):
        wallet.new_wallet("w", PASSWORD, **FAST)
    assert list((home / "wallets").iterdir()) == []


def test_path_like_names_are_refused(home):
    with pytest.raises(InvalidInputError, match="wallet name '../evil' is not allowed"):
        wallet.new_wallet("../evil", PASSWORD, **FAST)
    assert not (home / "evil.json").exists()


def test_empty_password_is_refused():
    with pytest.raises(InvalidInputError, match="empty password"):
        wallet.new_wallet("w", "", **FAST)


def test_account_from_env_reads_only_the_named_variable(monkeypatch):
    monkeypatch.setenv("CROWDSTAKE_PRIVATE_KEY", KEY.hex())
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(ConfigError, match="environment variable MY_KEY is not set"):
        wallet.account_from_env("MY_KEY")
    monkeypatch.setenv("MY_KEY", "0x" + KEY.hex())
    assert wallet.account_from_env("MY_KEY").key == KEY


def test_account_from_env_needs_a_variable_name(monkeypatch):
    monkeypatch.setenv("CROWDSTAKE_PRIVATE_KEY", KEY.hex())
    with pytest.raises(ConfigError, match="name the environment variable"):
        wallet.account_from_env("")


def test_bad_env_key_error_does_not_echo_it(monkeypatch):
    secret = "zz" + KEY.hex()[2:]
    monkeypatch.setenv("MY_KEY", secret)
    with pytest.raises(InvalidInputError) as caught:
        wallet.account_from_env("MY_KEY")
    assert "MY_KEY" in str(caught.value)
    assert KEY.hex()[2:] not in str(caught.value)


def test_password_from_env_variable(monkeypatch):
    monkeypatch.setenv("CROWDSTAKE_PASSWORD", PASSWORD)
    monkeypatch.setattr(wallet.getpass, "getpass", lambda prompt: pytest.fail("prompted"))
    assert wallet.password_from() == PASSWORD


def test_password_from_prompt_when_not_in_env(monkeypatch):
    monkeypatch.setattr(wallet.getpass, "getpass", lambda prompt: PASSWORD)
    assert wallet.password_from() == PASSWORD


def test_password_without_env_or_prompt_is_a_clear_error():
    with pytest.raises(ConfigError, match="set CROWDSTAKE_PASSWORD"):
        wallet.password_from(prompt=False)


def test_password_confirmation_must_match(monkeypatch):
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr(wallet.getpass, "getpass", lambda prompt: next(answers))
    with pytest.raises(InvalidInputError, match="the two passwords differ"):
        wallet.password_from(confirm=True)
