"""The names of a participant's models. On-chain a model is only `keccak256(name)`; this book
remembers the names behind the ids so that status, scores and claims say `m1`, not
`0x83267a439473`. `submit` writes each name it uses; a model submitted from another machine
shows its id until named (`crowdstake models name 0x… m1`), and a name is taken only if it
hashes to the id, so the book can never mislabel a model.

The book is one JSON file, `$CROWDSTAKE_HOME/models.json` (`{"0x<64 hex>": "name"}`), beside the
wallets; a book with no file (`ModelBook(None)`) lives in memory. Each change rewrites the file
atomically: a crash leaves the old book or the new one. A file that is not a book is one
ConfigError line; nothing overwrites it."""

from __future__ import annotations

import json
from pathlib import Path

from crowdstake._fs import atomic_write
from crowdstake.errors import ConfigError, InvalidInputError
from crowdstake.results.merkle import model_id


def short_id(mid: bytes) -> str:
    """A model id as the tables show it when no name is known: `0x` and 12 hex digits."""
    return "0x" + bytes(mid).hex()[:12]


def _id_bytes(text) -> bytes:
    if isinstance(text, (bytes, bytearray)) and len(text) == 32:
        return bytes(text)
    raw = str(text).removeprefix("0x")
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise InvalidInputError(f"model id {str(text)[:80]!r} is not 0x and 64 hex digits: copy it from "
                                "`crowdstake status` or a score table")
    return value


class ModelBook:
    """Model names by id, in the file at `path` (None: in memory only)."""

    def __init__(self, path: Path | str | None):
        self.path = None if path is None else Path(path).expanduser()
        self._names = self._read()

    def _read(self) -> dict[bytes, str]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text())
            return {_id_bytes(k): str(v) for k, v in raw.items()}
        except (OSError, ValueError, AttributeError, InvalidInputError):
            raise ConfigError(f"{self.path} is not a book of model names: move it away (a new one is written on the "
                              "next submit)") from None

    def _write(self) -> None:
        if self.path is not None:
            data = {"0x" + k.hex(): v for k, v in sorted(self._names.items(), key=lambda kv: kv[1])}
            atomic_write(self.path, (json.dumps(data, indent=1) + "\n").encode(), mode=0o600)

    def names(self) -> dict[bytes, str]:
        return dict(self._names)

    def remember(self, name: str) -> bytes:
        """Record `name` (the name a submission used); returns its id."""
        mid = model_id(name)
        if self._names.get(mid) != name:
            self._names[mid] = name
            self._write()
        return mid

    def name(self, model, name: str) -> bytes:
        """Name the model whose id is `model` (0x and 64 hex digits): refused unless
        keccak256(name) is that id."""
        mid = _id_bytes(model)
        if model_id(name) != mid:
            raise InvalidInputError(f"{name!r} is not the name of model {short_id(mid)}: its id is keccak256 of its "
                                    f"name, and {name!r} hashes to {short_id(model_id(name))}; give the name it was "
                                    "submitted with")
        return self.remember(name)

    def label(self, mid: bytes) -> str:
        """The model's name when known, else its short id."""
        return self._names.get(bytes(mid)) or short_id(mid)

    def resolve(self, model: str) -> bytes:
        """A model given by name or by its full id (0x and 64 hex digits) as its id."""
        if model.startswith("0x") and len(model) == 66:
            return _id_bytes(model)
        return model_id(model)
