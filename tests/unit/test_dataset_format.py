"""A round's dataset and targets as the store takes them (no chain): the manifest's one canonical
byte form and its hash, the file names and forms a dataset may have, the live ids of its live
file; targets read by the predictions' strict rules, the same numbers for every reader."""

import json

import pandas as pd
import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdstake.errors import InvalidDatasetError, InvalidTargetsError
from crowdstake.store import (dataset_hash, dataset_manifest, live_ids_of, parse_manifest, read_targets_data,
                              validate_targets)
from crowdstake.store.datasets import Entry, manifest_of

LIVE_IDS = ["a1", "b2", "c3", "d4", "e5"]
FILES = {
    "train.csv": b"id,era,feature_x,target\nt1,1,0.5,0.25\nt2,1,0.25,0.5\n",
    "validation.csv": b"id,era,feature_x,target\nv1,2,0.5,0.25\n",
    "live.csv": b"id,era,feature_x\n" + b"".join(f"{i},3,0.5\n".encode() for i in LIVE_IDS),
}
TARGETS = b"id,target\na1,0\nb2,0.25\nc3,0.5\nd4,0.75\ne5,1\n"


# ------------------------------------------------------------------ the manifest


def test_the_manifest_lists_every_file_sorted_with_its_hash_and_size():
    manifest = dataset_manifest(FILES)
    lines = manifest.decode().splitlines()
    assert lines[0] == "file,keccak256,bytes"
    assert lines[1:] == [f"{n},0x{keccak(FILES[n]).hex()},{len(FILES[n])}" for n in sorted(FILES)]
    assert manifest.endswith(b"\n") and b"\r" not in manifest
    assert dataset_hash(manifest) == keccak(manifest)
    assert parse_manifest(manifest) == [Entry(n, keccak(FILES[n]), len(FILES[n])) for n in sorted(FILES)]


def test_the_same_files_give_the_same_bytes_in_any_order():
    assert dataset_manifest(dict(reversed(list(FILES.items())))) == dataset_manifest(FILES)


@pytest.mark.parametrize("name, position", [(n, p) for n in FILES for p in (0, 5, -2)])
def test_any_changed_byte_of_any_file_changes_the_dataset_hash(name, position):
    blob = bytearray(FILES[name])
    blob[position] ^= 0x01
    changed = {**FILES, name: bytes(blob)}
    try:
        other = dataset_manifest(changed)
    except InvalidDatasetError:
        return  # a file that is no longer one (a broken header): refused, so it has no hash at all
    assert dataset_hash(other) != dataset_hash(dataset_manifest(FILES))


def test_feature_metadata_is_an_optional_file_of_the_manifest():
    with_meta = {**FILES, "features.json": json.dumps({"feature_sets": {"all": ["feature_x"]}}).encode()}
    entries = parse_manifest(dataset_manifest(with_meta))
    assert [e.name for e in entries] == ["features.json", "live.csv", "train.csv", "validation.csv"]
    with pytest.raises(InvalidDatasetError, match="features.json must hold a JSON object"):
        dataset_manifest({**FILES, "features.json": b"[1, 2]"})
    for broken in (b"{", b"\xff{}", b"[" * 100_000 + b"]" * 100_000):  # the last: nested too deep to read
        with pytest.raises(InvalidDatasetError, match="features.json is not UTF-8 JSON"):
            dataset_manifest({**FILES, "features.json": broken})


@pytest.mark.parametrize("missing", ["train.csv", "validation.csv", "live.csv"])
def test_a_dataset_missing_a_required_file_is_refused(missing):
    files = {k: v for k, v in FILES.items() if k != missing}
    with pytest.raises(InvalidDatasetError, match=f"^the dataset lacks {missing}: a dataset has train.csv, "
                                                  "validation.csv, live.csv"):
        dataset_manifest(files)


@pytest.mark.parametrize("name", ["../live.csv", "live_targets.csv", ".hidden", "LIVE.CSV", "sub/train.csv"])
def test_a_file_of_another_name_is_refused(name):
    with pytest.raises(InvalidDatasetError, match="is not a dataset file: a dataset has train.csv"):
        dataset_manifest({**FILES, name: b"id\nx\n"})


def test_a_live_file_with_targets_is_refused():
    leaky = b"id,era,feature_x,target\na1,3,0.5,0.25\n"
    with pytest.raises(InvalidDatasetError, match="live.csv has a target column: the live targets stay with the fund"):
        dataset_manifest({**FILES, "live.csv": leaky})


@pytest.mark.parametrize("live, match", [
    (b"id,era\na1,3\na1,3\n", "live.csv line 3: id 'a1' appears twice"),
    (b"id,era\n\"a1\",3\n", "live.csv line 2: id '\"a1\"' is empty or contains a space or quote"),
    (b"id,era\n", "live.csv lists no id"),
    (b"era,id\n3,a1\n", "live.csv: the header's first column must be `id`"),
    (b"id,era\n\xff,3\n", "live.csv is not UTF-8 text"),
])
def test_a_malformed_live_file_is_refused_naming_its_line(live, match):
    with pytest.raises(InvalidDatasetError, match=match):
        dataset_manifest({**FILES, "live.csv": live})


def test_a_train_file_needs_an_id_column():
    with pytest.raises(InvalidDatasetError, match="train.csv: the header's first column must be `id`, got 'era'"):
        dataset_manifest({**FILES, "train.csv": b"era,id\n1,t1\n"})


def test_live_ids_come_in_file_order_and_tolerate_crlf():
    assert live_ids_of(b"id,era\r\nz9,1\r\na1,1\r\n") == ["z9", "a1"]
    assert live_ids_of(FILES["live.csv"]) == LIVE_IDS


@pytest.mark.parametrize("mangle, match", [
    (lambda m: m.replace(b"file,keccak256,bytes", b"name,hash,size"), "line 1: the header must be"),
    (lambda m: m.rstrip(b"\n"), "must end with a newline"),
    (lambda m: m.replace(b"\n", b"\r\n"), "line 1: the header must be"),
    (lambda m: m.replace(b",0x", b",0X", 1), "manifest line 2: expected"),
    (lambda m: m.replace(m.split(b",0x")[1][:64], m.split(b",0x")[1][:64].upper(), 1), "manifest line 2: expected"),
    (lambda m: b"\n".join([m.split(b"\n")[0], *reversed(m.split(b"\n")[1:-1]), b""]), "not sorted by file name"),
    (lambda m: m.replace(b"\nlive.csv,", b"\nlive.csv, ", 1), "manifest line 2: expected"),
    (lambda m: m + m.split(b"\n")[1] + b"\n", "lists a file twice"),
    (lambda m: m.replace(b"\ntrain.csv,", b"\nextra.csv,"), "'extra.csv' is not a dataset file"),
    (lambda m: b"\n".join(line for line in m.split(b"\n") if not line.startswith(b"train.csv")), "lacks train.csv"),
])
def test_a_manifest_in_any_other_form_is_refused(mangle, match):
    manifest = dataset_manifest(FILES)
    mangled = mangle(manifest)
    assert mangled != manifest
    with pytest.raises(InvalidDatasetError, match=match):
        parse_manifest(mangled)


def test_a_size_with_a_leading_zero_is_not_canonical():
    entry = Entry("live.csv", b"\x01" * 32, 12)
    manifest = manifest_of([entry, Entry("train.csv", b"\x02" * 32, 1), Entry("validation.csv", b"\x03" * 32, 1)])
    with pytest.raises(InvalidDatasetError, match="manifest line 2"):
        parse_manifest(manifest.replace(b",12\n", b",012\n"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["train.csv", "validation.csv", "live.csv", "features.json"]),
                          st.binary(min_size=32, max_size=32), st.integers(0, 2**40)), min_size=3, max_size=4,
                unique_by=lambda e: e[0]))
def test_every_manifest_written_reads_back_to_itself(entries):
    manifest = manifest_of(entries)
    try:
        parsed = parse_manifest(manifest)
    except InvalidDatasetError as e:
        assert "lacks" in str(e)  # only a set missing a required file is refused
        return
    assert manifest_of(parsed) == manifest


# ------------------------------------------------------------------ targets


def test_targets_read_to_floats_indexed_by_id():
    series = read_targets_data(TARGETS)
    assert list(series.index) == LIVE_IDS and list(series) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert series.name == "target" and series.index.name == "id"
    assert validate_targets(TARGETS, LIVE_IDS) == 5


@pytest.mark.parametrize("data, match", [
    (TARGETS.replace(b"id,target", b"id,prediction"), "line 1: the header must be `id,target`"),
    (TARGETS.replace(b"c3,0.5", b"c3,1.5"), r"line 4: target 1.5 for id 'c3' is outside \[0, 1\]"),
    (TARGETS.replace(b"c3,0.5", b"c3,nan"), "line 4: target for id 'c3' is NaN"),
    (TARGETS.replace(b"c3,0.5", b"c3,"), "line 4: target '' for id 'c3' is not a number"),
    (TARGETS.replace(b"c3,0.5", b"c3,\xd9\xa0.5"), "not a number"),
    (TARGETS.replace(b"c3,", b"zz,"), "line 4: id 'zz' is not a live id of this round"),
    (TARGETS.replace(b"c3,", b"a1,"), "line 4: id 'a1' appears twice"),
    (TARGETS.replace(b"e5,1\n", b""), r"the file ends with 1 live id missing, first 'e5'"),
    (TARGETS.replace(b"c3,0.5", b"c3,0.5,1"), "line 4: expected 2 fields `id,target`"),
    (b"id,target\n" + b"".join(f"{i},0.5\n".encode() for i in LIVE_IDS), "every target is 0.5: constant targets"),
])
def test_malformed_targets_are_refused_naming_the_line(data, match):
    with pytest.raises(InvalidTargetsError, match=match):
        validate_targets(data, LIVE_IDS)
    assert InvalidTargetsError.status == 422


def test_targets_are_refused_over_the_size_limit():
    with pytest.raises(InvalidTargetsError, match="over the store's limit of 10"):
        validate_targets(TARGETS, LIVE_IDS, max_bytes=10)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=5, max_size=5).filter(lambda v: min(v) < max(v)))
def test_targets_read_back_exactly_as_written(values):
    data = ("id,target\n" + "".join(f"{i},{v!r}\n" for i, v in zip(LIVE_IDS, values))).encode()
    assert read_targets_data(data).equals(pd.Series(values, index=pd.Index(LIVE_IDS, name="id"), name="target"))
