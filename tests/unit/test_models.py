"""The book of model names (crowdstake.models): names kept beside the wallets, a name taken only
if it hashes to the model's id, ids shown until named, a damaged file refused, not overwritten."""

import json

import pytest

from crowdstake.errors import ConfigError, InvalidInputError
from crowdstake.models import ModelBook, short_id
from crowdstake.results.merkle import model_id


def test_submitted_names_are_kept_and_label_their_ids(tmp_path):
    path = tmp_path / "home" / "models.json"
    book = ModelBook(path)
    assert book.label(model_id("m1")) == short_id(model_id("m1")) == "0x" + model_id("m1").hex()[:12]
    assert book.remember("m1") == model_id("m1")
    again = ModelBook(path)
    assert again.label(model_id("m1")) == "m1" and again.names() == {model_id("m1"): "m1"}
    assert json.loads(path.read_text()) == {"0x" + model_id("m1").hex(): "m1"}
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_name_is_taken_only_if_it_hashes_to_the_id(tmp_path):
    book = ModelBook(tmp_path / "models.json")
    full = "0x" + model_id("alpha").hex()
    with pytest.raises(InvalidInputError, match=f"'beta' is not the name of model {short_id(model_id('alpha'))}: .* "
                                                f"'beta' hashes to {short_id(model_id('beta'))}"):
        book.name(full, "beta")
    assert book.names() == {} and not (tmp_path / "models.json").exists()
    book.name(full, "alpha")
    assert ModelBook(tmp_path / "models.json").label(model_id("alpha")) == "alpha"
    with pytest.raises(InvalidInputError, match="model id '0x12' is not 0x and 64 hex digits"):
        book.name("0x12", "alpha")


def test_a_model_is_given_by_name_or_by_its_full_id():
    book = ModelBook(None)
    assert book.resolve("m1") == model_id("m1")
    assert book.resolve("0x" + model_id("m1").hex()) == model_id("m1")


def test_a_damaged_book_is_one_line_and_left_alone(tmp_path):
    path = tmp_path / "models.json"
    path.write_text("not json")
    with pytest.raises(ConfigError, match=f"{path} is not a book of model names: move it away"):
        ModelBook(path)
    assert path.read_text() == "not json"
