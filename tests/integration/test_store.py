"""The submission store over real HTTP on loopback (uvicorn in a thread) against the anvil chain;
the core cases also against the LocalStore backend. The store's clock is the chain's, its
publishers the committee's members, and its dataset and targets publishers the Tournament's
operators, all asked on-chain."""

import os
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from brownie import chain, web3
from eth_account import Account
from support.rounds import model

from crowdstake import _fs
from crowdstake import store as S
from crowdstake._human import utc
from crowdstake._server import ServerThread, free_port
from crowdstake.store import replay
from crowdstake.store.auth import verify_request
from crowdstake.store.datasets import Entry, manifest_of
from crowdstake.errors import ConfigError

IDS = [f"n{i:04d}" for i in range(20)]
IDENTITY = "test-store"


def csv_for(ids=IDS, seed=0, values=None):
    values = values or [((seed * 7919 + i * 104729) % 1000) / 999 for i in range(len(ids))]
    return ("id,prediction\n" + "".join(f"{i},{v!r}\n" for i, v in zip(ids, values))).encode()


GOOD = csv_for()


@pytest.fixture
def local(runtime, tmp_path):
    return make_local(runtime, tmp_path / "store")


def make_local(runtime, directory, now=None, **kwargs):
    """A LocalStore on the chain's rounds, committee, operators and round commitments; its clock the
    chain's unless `now` is given."""
    round_times, chain_clock = S.chain_clock(runtime)
    round_dataset, round_targets = S.chain_commitments(runtime)
    return S.LocalStore(directory, round_times, runtime.w3.eth.chain_id, IDENTITY, now=now or chain_clock,
                        publishers=S.committee_members(runtime), operators=S.tournament_operators(runtime),
                        round_dataset=round_dataset, round_targets=round_targets, **kwargs)


@pytest.fixture
def server(local):
    """The store service over `local`; every test that uses it also checks that no request got a
    5xx: bad input is always a 4xx with a JSON `detail`."""
    inner, statuses = S.create_app(local, None, None, None), []

    async def app(scope, receive, send):  # every answer's status, the fast upload route's too
        async def recorded(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            await send(message)
        try:
            await inner(scope, receive, recorded)
        except Exception:
            statuses.append(500)  # uncaught: the server answers a plain-text 500
            raise

    with ServerThread(app) as srv:
        yield srv
    assert all(status < 500 for status in statuses), f"the store answered {statuses}"


@pytest.fixture(params=["http", "local"])
def backend(request, local):
    """The same store through either backend (the HTTP one serves the `local` directory)."""
    if request.param == "local":
        return local
    return S.HttpStore(request.getfixturevalue("server").url)


@pytest.fixture
def http(server):
    return S.HttpStore(server.url)


@pytest.fixture
def ann():
    return Account.from_key(secrets.token_bytes(32))


@pytest.fixture
def ben():
    return Account.from_key(secrets.token_bytes(32))


@pytest.fixture
def rid(driver, local):
    rid = driver.open_round(close_in=1000, resolve_in=2000)
    local.register_live_ids(rid, IDS)
    return rid


def close(runtime, rid):
    close_time, _, _ = runtime.tournament.functions.roundTimes(rid).call()
    chain.sleep(close_time - chain.time() + 1)
    chain.mine()


def chain_now():
    return web3.eth.get_block("latest")["timestamp"]


def auth(account, rid, data=GOOD, name="m", expiry=None, chain_id=None, identity=IDENTITY):
    return S.sign_upload(account, chain_id or chain.id, identity, rid, model(name), data,
                         chain_now() + 600 if expiry is None else expiry)


def refused(cls, status, match):
    """Expect a StoreError of this class and status whose message says `match`."""
    class Expect:
        def __enter__(self):
            self.ctx = pytest.raises(cls, match=match)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            if handled:
                assert self.info.value.status == status, f"status {self.info.value.status} != {status}"
            return handled

    return Expect()


# ------------------------------------------------------------------ accepted uploads


def test_upload_returns_the_keccak_that_submit_commits(backend, ann, rid):
    digest = backend.upload_predictions(ann, rid, model("m"), GOOD)
    assert digest == web3.keccak(GOOD)


def test_file_is_readable_after_close_by_staker_model_and_by_hash(backend, runtime, ann, rid):
    digest = backend.upload_predictions(ann, rid, model("m"), GOOD)
    close(runtime, rid)
    assert backend.get_predictions(rid, ann.address, model("m")) == GOOD
    assert backend.get_file(rid, digest) == GOOD
    assert backend.submissions(rid) == [{"staker": ann.address, "modelId": "0x" + model("m").hex(),
                                         "hash": "0x" + digest.hex()}]


def test_reupload_replaces_the_pointer_and_keeps_both_files(backend, runtime, ann, rid):
    first = backend.upload_predictions(ann, rid, model("m"), GOOD)
    second_data = csv_for(seed=1)
    second = backend.upload_predictions(ann, rid, model("m"), second_data)
    close(runtime, rid)
    assert backend.get_predictions(rid, ann.address, model("m")) == second_data
    assert backend.get_file(rid, first) == GOOD and backend.get_file(rid, second) == second_data


def test_one_wallet_many_models(backend, runtime, ann, rid):
    for name, seed in (("a", 1), ("b", 2)):
        backend.upload_predictions(ann, rid, model(name), csv_for(seed=seed))
    close(runtime, rid)
    assert backend.get_predictions(rid, ann.address, model("a")) == csv_for(seed=1)
    assert backend.get_predictions(rid, ann.address, model("b")) == csv_for(seed=2)


# ------------------------------------------------------------------ reading before close


def test_nobody_reads_an_open_round(backend, ann, rid):
    digest = backend.upload_predictions(ann, rid, model("m"), GOOD)
    with refused(S.StoreForbidden, 403, f"round {rid} is open until .*readable by nobody before it closes"):
        backend.get_predictions(rid, ann.address, model("m"))
    with refused(S.StoreForbidden, 403, "readable by nobody"):
        backend.get_file(rid, digest)
    with refused(S.StoreForbidden, 403, "readable by nobody"):
        backend.submissions(rid)


def test_reading_waits_for_chain_time_not_wall_clock(local, runtime, ann, rid):
    local.upload_predictions(ann, rid, model("m"), GOOD)
    close_time, _, _ = runtime.tournament.functions.roundTimes(rid).call()
    chain.sleep(close_time - chain.time() - 30)
    chain.mine()
    with refused(S.StoreForbidden, 403, "is open until"):
        local.get_predictions(rid, ann.address, model("m"))
    close(runtime, rid)
    assert local.get_predictions(rid, ann.address, model("m")) == GOOD


def test_missing_file_after_close_is_not_found(backend, runtime, ann, rid):
    close(runtime, rid)
    with refused(S.StoreNotFound, 404, f"no file of {ann.address}"):
        backend.get_predictions(rid, ann.address, model("m"))


# ------------------------------------------------------------------ refused uploads


def test_replayed_upload_is_refused(backend, ann, rid):
    signed = auth(ann, rid)
    backend.put_predictions(GOOD, signed)
    with refused(S.StoreConflict, 409, r"used already \(a replay\)"):
        backend.put_predictions(GOOD, signed)


def test_replay_after_reupload_cannot_restore_the_old_file(backend, runtime, ann, rid):
    old = auth(ann, rid)
    backend.put_predictions(GOOD, old)
    backend.upload_predictions(ann, rid, model("m"), csv_for(seed=5))
    with refused(S.StoreConflict, 409, "replay"):
        backend.put_predictions(GOOD, old)
    close(runtime, rid)
    assert backend.get_predictions(rid, ann.address, model("m")) == csv_for(seed=5)


def test_replay_is_remembered_across_a_restart(local, runtime, tmp_path, ann, rid):
    signed = auth(ann, rid)
    local.put_predictions(GOOD, signed)
    restarted = make_local(runtime, tmp_path / "store")
    with refused(S.StoreConflict, 409, "replay"):
        restarted.put_predictions(GOOD, signed)


def test_expired_signature_is_refused(backend, ann, rid):
    signed = auth(ann, rid, expiry=chain_now() + 50)
    chain.sleep(100)
    chain.mine()
    with refused(S.StoreUnauthorized, 401, "the signature expired at .*sign a new request"):
        backend.put_predictions(GOOD, signed)


def test_a_signature_is_valid_through_its_expiry_second(runtime, tmp_path, ann, rid):
    # The store's clock pinned at one second (the chain's now, inside the open round): a signature
    # is still good in the second it names, and expired the second after.
    pinned = chain_now()
    store = make_local(runtime, tmp_path / "store", now=lambda: pinned)  # the round's live ids are there
    with refused(S.StoreUnauthorized, 401, f"the signature expired at {utc(pinned - 1)} \\(1 s ago\\)"):
        store.put_predictions(GOOD, auth(ann, rid, expiry=pinned - 1))
    assert store.put_predictions(GOOD, auth(ann, rid, expiry=pinned)) == web3.keccak(GOOD)


def test_far_future_expiry_is_refused(backend, ann, rid):
    with refused(S.StoreBadRequest, 400, r"expiry .* UTC \(in .*\) is more than 1d after the chain's time"):
        backend.put_predictions(GOOD, auth(ann, rid, expiry=chain_now() + 2 * 86400))


def test_signature_of_another_wallet_is_refused(backend, ann, ben, rid):
    signed = auth(ben, rid)
    signed["staker"] = ann.address  # ben signs, claims to be ann
    with refused(S.StoreUnauthorized, 401, f"the signature is not by staker {ann.address}: sign with that account's key"):
        backend.put_predictions(GOOD, signed)


def test_upload_to_another_stakers_url_is_refused(backend, ann, ben, rid):
    with refused(S.StoreBadRequest, 400, f"signed for staker {ann.address}, not {ben.address}"):
        backend.put_predictions(GOOD, auth(ann, rid), staker=ben.address)


def test_wrong_round_is_refused(backend, driver, local, ann, rid):
    other = driver.open_round()
    local.register_live_ids(other, IDS)
    with refused(S.StoreBadRequest, 400, f"signed for round {rid}, not round {other}"):
        backend.put_predictions(GOOD, auth(ann, rid), round_id=other)


def test_wrong_model_is_refused(backend, ann, rid):
    with refused(S.StoreBadRequest, 400, f"signed for modelId 0x{model('m').hex()}, not 0x{model('x').hex()}"):
        backend.put_predictions(GOOD, auth(ann, rid, name="m"), model_id=model("x"))


def test_file_other_than_the_signed_one_is_refused(backend, ann, rid):
    with refused(S.StoreBadRequest, 400, "the file's hash is 0x[0-9a-f]{64}, the signature covers"):
        backend.put_predictions(csv_for(seed=3), auth(ann, rid, data=GOOD))


@pytest.mark.parametrize("field, value", [
    ("nonce", -1), ("nonce", 2**256), ("nonce", 2**300), ("expiry", 1e300), ("expiry", "soon"), ("roundId", True),
    ("chainId", 1.5),
])
def test_out_of_range_auth_fields_are_a_400(backend, ann, rid, field, value):
    signed = {**auth(ann, rid), field: value}
    with refused(S.StoreBadRequest, 400, f"{field} must be a whole number from 0 to 2\\*\\*256 - 1"):
        backend.put_predictions(GOOD, signed, round_id=rid)


def test_wrong_chain_is_refused(backend, ann, rid):
    with refused(S.StoreBadRequest, 400, f"signed for chain 1, this store serves chain {chain.id}"):
        backend.put_predictions(GOOD, auth(ann, rid, chain_id=1))


def test_wrong_store_identity_is_refused(backend, ann, rid):
    with refused(S.StoreBadRequest, 400, "signed for store 'another-store', this store is 'test-store'"):
        backend.put_predictions(GOOD, auth(ann, rid, identity="another-store"))


def test_closed_round_refuses_uploads(backend, runtime, ann, rid):
    signed = auth(ann, rid, expiry=chain_now() + 5000)
    close(runtime, rid)
    with refused(S.StoreForbidden, 403, f"round {rid} closed at .*uploads are no longer accepted"):
        backend.put_predictions(GOOD, signed)


def test_unknown_round_refuses_uploads(backend, ann, rid):
    with refused(S.StoreNotFound, 404, f"round {rid + 100} does not exist on chain {chain.id}"):
        backend.put_predictions(GOOD, auth(ann, rid + 100))


def test_round_without_live_ids_refuses_uploads(backend, driver, ann):
    bare = driver.open_round()
    with refused(S.StoreConflict, 409, f"not registered live ids for round {bare}"):
        backend.put_predictions(GOOD, auth(ann, bare))


# ------------------------------------------------------------------ validation


def bad_file(backend, ann, rid, data, match, cls=S.InvalidPredictionsError, status=422):
    with refused(cls, status, match):
        backend.upload_predictions(ann, rid, model("m"), data)


def test_wrong_header_names_line_1(backend, ann, rid):
    bad_file(backend, ann, rid, GOOD.replace(b"id,prediction", b"id,pred"), "line 1: the header must be `id,prediction`")


def test_value_above_one_names_its_line(backend, ann, rid):
    values = [0.5] * len(IDS)
    values[3] = 1.5
    bad_file(backend, ann, rid, csv_for(values=values), r"line 5: prediction 1.5 for id 'n0003' is outside \[0, 1\]")


def test_negative_value_names_its_line(backend, ann, rid):
    values = [0.5] * len(IDS)
    values[0] = -0.01
    bad_file(backend, ann, rid, csv_for(values=values), r"line 2: prediction -0.01 .* outside \[0, 1\]")


def test_nan_names_its_line(backend, ann, rid):
    values = [0.5] * len(IDS)
    values[7] = float("nan")
    bad_file(backend, ann, rid, csv_for(values=values), "line 9: prediction for id 'n0007' is NaN")


def test_not_a_number_names_its_line(backend, ann, rid):
    bad_file(backend, ann, rid, GOOD.replace(b"n0002,", b"n0002,x"), r"line 4: prediction 'x.*' for id 'n0002' is not a number")


def test_unknown_id_names_its_line(backend, ann, rid):
    bad_file(backend, ann, rid, csv_for(ids=IDS[:-1] + ["zz"]), "line 21: id 'zz' is not a live id of this round")


def test_duplicate_id_names_its_line(backend, ann, rid):
    bad_file(backend, ann, rid, csv_for(ids=IDS[:-1] + ["n0000"]), "line 21: id 'n0000' appears twice")


def test_missing_ids_are_refused(backend, ann, rid):
    bad_file(backend, ann, rid, csv_for(ids=IDS[:-2]), r"line 20: the file ends with 2 live ids missing, first 'n0018'")


def test_extra_field_names_its_line(backend, ann, rid):
    bad_file(backend, ann, rid, GOOD.replace(b"n0004,", b"n0004,0.1,"), "line 6: expected 2 fields")


def test_oversized_file_is_refused(runtime, tmp_path, ann, rid):
    small = make_local(runtime, tmp_path / "store", max_bytes=100)
    with ServerThread(S.create_app(small, None, None, None)) as srv:
        bad_file(S.HttpStore(srv.url), ann, rid, GOOD, r"the body is \d+ bytes, over the store's limit of 100",
                 cls=S.StoreTooLarge, status=413)


def test_crlf_file_without_final_newline_is_accepted(backend, ann, rid):
    data = GOOD.replace(b"\n", b"\r\n").rstrip(b"\r\n")
    assert backend.upload_predictions(ann, rid, model("m"), data) == web3.keccak(data)


def test_refused_file_is_not_stored(backend, runtime, ann, rid):
    with pytest.raises(S.InvalidPredictionsError):
        backend.upload_predictions(ann, rid, model("m"), csv_for(ids=IDS[:-1]))
    close(runtime, rid)
    assert backend.submissions(rid) == []


# ------------------------------------------------------------------ HTTP specifics


def test_http_upload_without_signature_is_unauthorized(server, rid, ann):
    r = requests.put(f"{server.url}/rounds/{rid}/predictions/{ann.address}/0x{model('m').hex()}", data=GOOD)
    assert r.status_code == 401
    assert "no X-Crowdstake-Auth header" in r.json()["detail"]


def test_http_info_tells_chain_identity_and_chain_time(http):
    info = http.info()
    assert (info["chainId"], info["identity"], info["now"]) == (chain.id, IDENTITY, chain_now())


def test_http_client_refuses_a_store_of_another_chain(server):
    with pytest.raises(ConfigError, match=f"serves chain {chain.id}, not chain 1"):
        S.HttpStore(server.url, chain_id=1).info()


# ------------------------------------------------------------------ atomicity and concurrency


def test_a_crash_in_the_commit_keeps_nothing_of_the_upload(local, runtime, monkeypatch, ann, rid):
    monkeypatch.setattr(replay, "POINT", "INSERT INTO nowhere VALUES (?, ?, ?, ?)")  # fails after the file's insert
    with pytest.raises(S.StoreUnavailable, match="try again later"):
        local.upload_predictions(ann, rid, model("m"), GOOD)
    monkeypatch.undo()
    assert local._replay.file(rid, S.file_hash(GOOD)) is None
    local.upload_predictions(ann, rid, model("m"), GOOD)  # nothing half-kept: the same upload goes in whole
    close(runtime, rid)
    assert [s["hash"] for s in local.submissions(rid)] == ["0x" + S.file_hash(GOOD).hex()]
    assert local.get_file(rid, S.file_hash(GOOD)) == GOOD


def test_leftover_temporary_files_are_removed_at_start(local, runtime, tmp_path, rid):
    leftover = local.directory / "rounds" / str(rid) / ".tmp-abc"
    leftover.write_bytes(b"id,predic")
    os.utime(leftover, (0, 0))
    make_local(runtime, tmp_path / "store")
    assert not leftover.exists()


def test_a_second_store_on_the_directory_keeps_fresh_temporary_files(local, runtime, tmp_path, rid):
    in_flight = local.directory / "rounds" / str(rid) / ".tmp-xyz"
    in_flight.write_bytes(b"id,predic")
    make_local(runtime, tmp_path / "store")
    assert in_flight.exists()


def test_concurrent_uploads_lose_nothing_and_corrupt_nothing(http, local, runtime, rid):
    wallets = [Account.from_key(secrets.token_bytes(32)) for _ in range(40)]
    jobs = [(w, name, csv_for(seed=i * 2 + j)) for i, w in enumerate(wallets) for j, name in enumerate(("a", "b"))]
    errors = []

    def upload(job):
        w, name, data = job
        try:
            assert http.upload_predictions(w, rid, model(name), data) == web3.keccak(data)
        except Exception as e:  # noqa: BLE001 - collected: a thread's failure must fail the test
            errors.append(e)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(upload, jobs))
    assert errors == []
    close(runtime, rid)
    assert len(http.submissions(rid)) == len(jobs)
    for w, name, data in jobs:
        assert http.get_predictions(rid, w.address, model(name)) == data
    assert list(local.directory.rglob(".tmp-*")) == []


def test_concurrent_reuploads_of_one_model_leave_one_whole_file(http, runtime, ann, rid):
    versions = [csv_for(seed=s) for s in range(20)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        digests = list(pool.map(lambda d: http.upload_predictions(ann, rid, model("m"), d), versions))
    close(runtime, rid)
    final = http.get_predictions(rid, ann.address, model("m"))
    assert final in versions
    assert all(http.get_file(rid, d) == v for d, v in zip(digests, versions))


# ------------------------------------------------------------------ score tables


@pytest.fixture
def oracle(committee, admin, members):
    """A committee member with a key of its own (brownie's accounts sign through the node),
    in place of the third member (2 of 3 stays valid)."""
    member = Account.from_key(secrets.token_bytes(32))
    committee.removeMember(members[2], {"from": admin})
    committee.addMember(member.address, {"from": admin})
    return member


TABLE = b"staker,modelId,score\n0xabc,0x01,0.5\n"


def test_committee_member_publishes_and_anyone_reads_the_table(backend, runtime, oracle, rid):
    close(runtime, rid)
    digest = backend.publish_score_table(oracle, rid, TABLE)
    assert digest == web3.keccak(TABLE)
    assert backend.get_score_table(rid) == TABLE
    assert backend.get_score_table(rid, digest) == TABLE


def test_non_member_cannot_publish_a_table(backend, runtime, ann, rid):
    close(runtime, rid)
    with refused(S.StoreForbidden, 403, f"{ann.address} may not publish score tables here"):
        backend.publish_score_table(ann, rid, TABLE)


def test_table_of_an_open_round_is_refused(backend, oracle, rid):
    with refused(S.StoreForbidden, 403, f"round {rid} is open until .*published after it closes"):
        backend.publish_score_table(oracle, rid, TABLE)


def test_unpublished_table_is_not_found(backend, runtime, rid):
    close(runtime, rid)
    with refused(S.StoreNotFound, 404, f"no score table published for round {rid} yet"):
        backend.get_score_table(rid)


def test_a_new_table_replaces_the_latest_and_the_old_stays_readable(backend, runtime, oracle, rid):
    close(runtime, rid)
    old = backend.publish_score_table(oracle, rid, TABLE)
    backend.publish_score_table(oracle, rid, TABLE + b"0xdef,0x02,0.1\n")
    assert backend.get_score_table(rid) == TABLE + b"0xdef,0x02,0.1\n"
    assert backend.get_score_table(rid, old) == TABLE


# ------------------------------------------------------------------ datasets


def dataset_files(ids=IDS, seed=0):
    """A small dataset in the layout crowdstake.fund.dataset writes, its live file listing `ids`."""
    return {
        "train.csv": f"id,era,feature_a,target\nt{seed},1,0.5,0.25\nu{seed},1,0.25,0.5\n".encode(),
        "validation.csv": b"id,era,feature_a,target\nv1,2,0.75,1.0\n",
        "live.csv": ("id,era,feature_a\n" + "".join(f"{i},3,0.5\n" for i in ids)).encode(),
        "features.json": b'{"feature_sets": {"all": ["feature_a"]}}\n',
    }


DATASET = dataset_files()


@pytest.fixture
def fund(tournament, admin):
    """An operator of the Tournament with a key of its own (brownie's operator signs through the node)."""
    account = Account.from_key(secrets.token_bytes(32))
    tournament.grantRole(tournament.OPERATOR_ROLE(), account.address, {"from": admin})
    admin.transfer(account.address, 10**18)
    return account


def open_with(driver, dataset_hash, close_in=1000, resolve_in=2000):
    now = chain.time()
    return driver.tournament.openRound(driver.tournament_id, dataset_hash, now + close_in, now + resolve_in,
                                       {"from": driver.operator}).return_value


def signed_file(account, data, identity=IDENTITY):
    return S.sign_dataset_file(account, chain.id, identity, data, chain_now() + 600)


def signed_manifest(account, manifest, identity=IDENTITY):
    return S.sign_dataset(account, chain.id, identity, manifest, chain_now() + 600)


def test_an_operator_publishes_a_dataset_and_anyone_reads_it_by_hash(backend, fund):
    digest = backend.publish_dataset(fund, DATASET)
    manifest = S.dataset_manifest(DATASET)
    assert digest == web3.keccak(manifest)
    assert backend.get_manifest(digest) == manifest
    for entry in S.parse_manifest(manifest):
        assert backend.get_dataset_file(entry.hash) == DATASET[entry.name]
    assert backend.get_manifest("0x" + digest.hex()) == manifest  # a hash as hex works too


def test_the_same_dataset_again_is_no_change(backend, local, fund):
    first = backend.publish_dataset(fund, DATASET)
    before = sorted(p.relative_to(local.directory) for p in (local.directory / "datasets").rglob("*"))
    assert backend.publish_dataset(fund, dict(reversed(list(DATASET.items())))) == first
    assert sorted(p.relative_to(local.directory) for p in (local.directory / "datasets").rglob("*")) == before


def test_a_round_takes_its_live_ids_from_the_dataset_it_commits(backend, driver, fund, ann):
    ids = [f"x{i:03d}" for i in range(12)]
    rid = open_with(driver, backend.publish_dataset(fund, dataset_files(ids)))
    assert backend.live_ids(rid) == sorted(ids)
    data = csv_for(ids=ids)
    assert backend.upload_predictions(ann, rid, model("m"), data) == web3.keccak(data)
    bad_file(backend, ann, rid, GOOD, "line 2: id 'n0000' is not a live id of this round")


def test_a_dataset_published_after_the_round_opened_opens_its_uploads(backend, driver, fund, ann):
    files = dataset_files(seed=7)
    rid = open_with(driver, S.dataset_hash(S.dataset_manifest(files)))
    with refused(S.StoreConflict, 409, f"not registered live ids for round {rid} in this store yet, nor published "
                                       f"its dataset 0x{S.dataset_hash(S.dataset_manifest(files)).hex()}"):
        backend.upload_predictions(ann, rid, model("m"), GOOD)
    backend.publish_dataset(fund, files)
    assert backend.upload_predictions(ann, rid, model("m"), GOOD) == web3.keccak(GOOD)


def test_a_dataset_in_the_store_wins_over_registered_live_ids(local, driver, fund):
    rid = open_with(driver, local.publish_dataset(fund, DATASET))
    local.register_live_ids(rid, ["other"])
    assert local.live_ids(rid) == sorted(IDS)


def test_a_wallet_without_the_operator_role_publishes_no_dataset(backend, local, ann):
    with refused(S.StoreForbidden, 403, f"{ann.address} may not publish dataset files here: only the "
                                        r"Tournament's operators \(OPERATOR_ROLE\) may"):
        backend.publish_dataset(ann, DATASET)
    manifest = S.dataset_manifest(DATASET)
    with refused(S.StoreForbidden, 403, f"{ann.address} may not publish datasets here"):
        backend.put_manifest(manifest, signed_manifest(ann, manifest))
    assert not (local.directory / "datasets").exists()  # nothing was written


@pytest.mark.parametrize("missing", ["train.csv", "validation.csv", "live.csv"])
def test_a_dataset_missing_a_file_is_refused_before_anything_is_uploaded(backend, local, fund, missing):
    files = {k: v for k, v in DATASET.items() if k != missing}
    with refused(S.InvalidDatasetError, 422, f"the dataset lacks {missing}"):
        backend.publish_dataset(fund, files)
    assert not (local.directory / "datasets").exists()


def test_the_store_itself_refuses_a_manifest_missing_a_file(http, fund):
    # what a client that skips the check sends: a signed manifest of two files (canonical, but not a dataset)
    short = manifest_of(S.parse_manifest(S.dataset_manifest(DATASET))[i] for i in (1, 2))
    with refused(S.InvalidDatasetError, 422, "the dataset lacks"):
        http.put_manifest(short, signed_manifest(fund, short))


def test_a_manifest_whose_files_are_not_uploaded_is_refused(backend, fund):
    manifest = S.dataset_manifest(DATASET)
    with refused(S.StoreConflict, 409, r"the manifest lists features.json \(0x[0-9a-f]{64}\), which is not in this "
                                       "store: upload each file first"):
        backend.put_manifest(manifest, signed_manifest(fund, manifest))
    with refused(S.StoreNotFound, 404, f"no dataset with hash 0x{web3.keccak(manifest).hex()} in this store"):
        backend.get_manifest(web3.keccak(manifest))


def test_a_manifest_that_misstates_a_size_is_refused(backend, fund):
    for data in DATASET.values():
        backend.put_dataset_file(data, signed_file(fund, data))
    manifest = S.dataset_manifest(DATASET)
    size = len(DATASET["live.csv"])
    lying = manifest.replace(f",{size}\n".encode(), f",{size + 1}\n".encode())
    with refused(S.InvalidDatasetError, 422, f"the manifest gives live.csv {size + 1:,} bytes, the file with its hash "
                                             f"has {size:,}"):
        backend.put_manifest(lying, signed_manifest(fund, lying))


def test_a_live_file_with_the_targets_is_refused_by_the_store(http, fund):
    leaky = {**DATASET, "live.csv": ("id,era,feature_a,target\n" + "".join(f"{i},3,0.5,1\n" for i in IDS)).encode()}
    for data in leaky.values():  # a file is only bytes under its hash: the manifest says what it is
        http.put_dataset_file(data, signed_file(fund, data))
    manifest = manifest_of(Entry(n, web3.keccak(d), len(d)) for n, d in leaky.items())
    with refused(S.InvalidDatasetError, 422, "live.csv has a target column"):
        http.put_manifest(manifest, signed_manifest(fund, manifest))


@pytest.mark.parametrize("manifest, match", [
    (b"file,hash\n", "manifest line 1: the header must be `file,keccak256,bytes`"),
    (b"file,keccak256,bytes\nlive.csv,0x12,3\n", "manifest line 2: expected"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_a_malformed_manifest_is_a_422(http, fund, manifest, match):
    with refused(S.InvalidDatasetError, 422, match):
        http.put_manifest(manifest, signed_manifest(fund, manifest))


def test_a_dataset_file_under_another_hash_is_refused(backend, fund):
    data = DATASET["train.csv"]
    other = web3.keccak(b"something else")
    with refused(S.StoreBadRequest, 400, f"signed for fileHash 0x{web3.keccak(data).hex()}, not 0x{other.hex()}"):
        backend.put_dataset_file(data, signed_file(fund, data), file_hash=other)
    with refused(S.StoreBadRequest, 400, "the file's hash is 0x[0-9a-f]{64}, the signature covers"):
        backend.put_dataset_file(b"other bytes", signed_file(fund, data))


def test_a_replayed_dataset_signature_is_refused(backend, fund):
    data = DATASET["train.csv"]
    signed = signed_file(fund, data)
    backend.put_dataset_file(data, signed)
    with refused(S.StoreConflict, 409, "replay"):
        backend.put_dataset_file(data, signed)


def test_a_signature_of_one_kind_is_not_valid_as_another(http, fund):
    manifest = S.dataset_manifest(DATASET)
    as_file = signed_file(fund, manifest)  # a file signature over the manifest's bytes
    with refused(S.StoreBadRequest, 400, "the authorisation is a 'datasetFile' signature, this request needs 'dataset'"):
        http.put_manifest(manifest, as_file, dataset_hash=web3.keccak(manifest))
    forged = {**as_file, "kind": "dataset", "datasetHash": as_file["fileHash"]}
    with refused(S.StoreUnauthorized, 401, f"the signature is not by publisher {fund.address}"):
        http.put_manifest(manifest, forged)


def test_a_dataset_file_over_the_limit_is_refused(runtime, tmp_path, fund):
    small = make_local(runtime, tmp_path / "store", max_dataset_bytes=50)
    with ServerThread(S.create_app(small, None, None, None)) as srv:
        with refused(S.StoreTooLarge, 413, r"the body is \d+ bytes, over the store's limit of 50"):
            S.HttpStore(srv.url).publish_dataset(fund, DATASET)
    assert not (small.directory / "datasets" / "files").exists() or all(
        p.stat().st_size <= 50 for p in (small.directory / "datasets" / "files").iterdir())


def test_the_live_ids_of_an_unknown_round_are_a_409_not_a_5xx(backend, rid):
    with refused(S.StoreConflict, 409, f"not registered live ids for round {rid + 7}"):
        backend.live_ids(rid + 7)


def test_unknown_datasets_and_files_are_not_found(backend):
    with refused(S.StoreNotFound, 404, f"no dataset with hash 0x{'ab' * 32} in this store"):
        backend.get_manifest(b"\xab" * 32)
    with refused(S.StoreNotFound, 404, f"no dataset file with hash 0x{'cd' * 32} in this store"):
        backend.get_dataset_file(b"\xcd" * 32)


@pytest.mark.parametrize("path", ["/datasets/xyz", "/datasets/files/0x12", "/rounds/1/targets/nothex"])
def test_a_malformed_hash_in_a_url_is_a_400(server, driver, path):
    driver.open_round()
    r = requests.get(server.url + path)
    assert r.status_code == 400 and "must be 32 bytes" in r.json()["detail"]


def test_a_crashed_dataset_write_leaves_no_manifest(local, monkeypatch, fund):
    real = _fs.os.replace

    def crash(src, dst):
        if str(dst).endswith(".csv") and "manifests" in str(dst):
            raise OSError("power cut")
        return real(src, dst)

    monkeypatch.setattr(_fs.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        local.publish_dataset(fund, DATASET)
    monkeypatch.undo()
    digest = S.dataset_hash(S.dataset_manifest(DATASET))
    with refused(S.StoreNotFound, 404, "no dataset with hash"):
        local.get_manifest(digest)
    assert list(local.directory.rglob(".tmp-*")) == []
    assert local.publish_dataset(fund, DATASET) == digest  # published again, whole


# ------------------------------------------------------------------ targets


TARGETS_OF = ("id,target\n" + "".join(f"{i},{(k % 5) / 4}\n" for k, i in enumerate(IDS))).encode()


def resolve(runtime, rid):
    _, resolve_time, _ = runtime.tournament.functions.roundTimes(rid).call()
    chain.sleep(max(resolve_time - chain.time(), 0) + 1)
    chain.mine()


def test_an_operator_publishes_targets_once_resolved_and_anyone_reads_them(backend, runtime, fund, rid):
    resolve(runtime, rid)
    digest = backend.publish_targets(fund, rid, TARGETS_OF)
    assert digest == web3.keccak(TARGETS_OF)
    assert backend.get_targets(rid) == TARGETS_OF
    assert backend.get_targets(rid, digest) == TARGETS_OF


def test_targets_before_the_resolve_time_are_refused_and_unreadable(backend, runtime, fund, rid):
    close(runtime, rid)  # closed, not resolved
    with refused(S.StoreForbidden, 403, f"round {rid} resolves at .*its targets are published from then on"):
        backend.publish_targets(fund, rid, TARGETS_OF)
    with refused(S.StoreForbidden, 403, f"round {rid} resolves at .*its targets are readable from then on"):
        backend.get_targets(rid)


def test_targets_are_stored_once_per_round(backend, runtime, fund, rid):
    resolve(runtime, rid)
    first = backend.publish_targets(fund, rid, TARGETS_OF)
    assert backend.publish_targets(fund, rid, TARGETS_OF) == first  # the same bytes again: no change
    other = TARGETS_OF.replace(b"n0000,0.0", b"n0000,0.5")
    with refused(S.StoreConflict, 409, f"round {rid}'s targets are published already, with hash 0x{first.hex()}: "
                                       "a round's targets are stored once"):
        backend.publish_targets(fund, rid, other)
    assert backend.get_targets(rid) == TARGETS_OF


def test_a_wallet_without_the_operator_role_publishes_no_targets(backend, runtime, ann, rid):
    resolve(runtime, rid)
    with refused(S.StoreForbidden, 403, f"{ann.address} may not publish targets here"):
        backend.publish_targets(ann, rid, TARGETS_OF)
    with refused(S.StoreNotFound, 404, f"no targets published for round {rid} yet"):
        backend.get_targets(rid)


@pytest.mark.parametrize("data, match", [
    (TARGETS_OF.replace(b"n0003,", b"zz,"), "line 5: id 'zz' is not a live id of this round"),
    (TARGETS_OF.replace(b"n0019,", b"n0000,"), "line 21: id 'n0000' appears twice"),
    (b"id,target\n" + b"".join(f"{i},1\n".encode() for i in IDS[:-1]), "ends with 1 live id"),
    (TARGETS_OF.replace(b"n0002,0.5", b"n0002,2"), r"line 4: target 2 for id 'n0002' is outside \[0, 1\]"),
    (TARGETS_OF.replace(b"n0002,0.5", b"n0002,NaN"), "line 4: target for id 'n0002' is NaN"),
    (TARGETS_OF.replace(b"id,target", b"id,prediction"), "line 1: the header must be `id,target`"),
])
def test_targets_that_are_not_the_rounds_are_refused_naming_the_line(backend, runtime, fund, rid, data, match):
    resolve(runtime, rid)
    with refused(S.InvalidTargetsError, 422, match):
        backend.publish_targets(fund, rid, data)
    assert backend.publish_targets(fund, rid, TARGETS_OF) == web3.keccak(TARGETS_OF)  # nothing was stored


def test_targets_other_than_the_committed_ones_are_refused(backend, runtime, tournament, operator, fund, rid):
    resolve(runtime, rid)
    committed = web3.keccak(b"the fund's real targets")
    tournament.publishTargets(rid, committed, {"from": operator})
    with refused(S.StoreConflict, 409, f"round {rid}'s targets are committed on-chain as 0x{committed.hex()}, these "
                                       f"bytes hash to 0x{web3.keccak(TARGETS_OF).hex()}"):
        backend.publish_targets(fund, rid, TARGETS_OF)


def test_targets_by_another_hash_are_not_found(backend, runtime, fund, rid):
    resolve(runtime, rid)
    backend.publish_targets(fund, rid, TARGETS_OF)
    with refused(S.StoreNotFound, 404, f"no targets with hash 0x{'11' * 32} for round {rid}: the store holds "
                                       f"0x{web3.keccak(TARGETS_OF).hex()}"):
        backend.get_targets(rid, b"\x11" * 32)


def test_targets_of_an_unknown_round_or_one_without_live_ids_are_refused(backend, runtime, driver, fund, rid):
    with refused(S.StoreNotFound, 404, f"round {rid + 50} does not exist"):
        backend.publish_targets(fund, rid + 50, TARGETS_OF)
    bare = driver.open_round(close_in=10, resolve_in=20)
    resolve(runtime, bare)
    with refused(S.StoreConflict, 409, f"not registered live ids for round {bare}"):
        backend.publish_targets(fund, bare, TARGETS_OF)


def test_targets_of_a_round_whose_dataset_is_in_the_store_need_its_live_ids(backend, runtime, driver, fund):
    ids = [f"y{i}" for i in range(6)]
    rid = open_with(driver, backend.publish_dataset(fund, dataset_files(ids)), close_in=10, resolve_in=20)
    resolve(runtime, rid)
    with refused(S.InvalidTargetsError, 422, "id 'n0000' is not a live id"):
        backend.publish_targets(fund, rid, TARGETS_OF)
    data = ("id,target\n" + "".join(f"{i},{k / 5}\n" for k, i in enumerate(ids))).encode()
    assert backend.publish_targets(fund, rid, data) == web3.keccak(data)


def test_a_targets_signature_for_another_round_is_refused(http, runtime, driver, fund, rid):
    resolve(runtime, rid)
    signed = S.sign_targets(fund, chain.id, IDENTITY, rid, TARGETS_OF, chain_now() + 600)
    with refused(S.StoreBadRequest, 400, f"signed for round {rid}, not round {rid + 1}"):
        http.put_targets(TARGETS_OF, signed, round_id=rid + 1)


def test_http_targets_without_a_signature_are_unauthorized(server, rid):
    r = requests.put(f"{server.url}/rounds/{rid}/targets", data=TARGETS_OF)
    assert r.status_code == 401 and "no X-Crowdstake-Auth header" in r.json()["detail"]
    r = requests.put(f"{server.url}/datasets/files/0x{'00' * 32}", data=b"x", headers={S.AUTH_HEADER: "{"})
    assert r.status_code == 400 and "not JSON" in r.json()["detail"]


# ------------------------------------------------------------------ the service as `serve` runs it


@pytest.fixture
def served(runtime, tmp_path):
    """`crowdstake.store.serve` in its own process, wired to the chain by RPC URL and deployments."""
    import subprocess
    import sys
    import time

    port = free_port()
    code = ("import sys; from pathlib import Path; from crowdstake.chain import Contracts, connect; "
            "from crowdstake.store import serve; "
            "serve(sys.argv[1], Contracts.load(connect(sys.argv[3]), Path(sys.argv[4])), '127.0.0.1', int(sys.argv[2]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "served"), str(port),
                             web3.provider.endpoint_uri, str(tmp_path)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                S.HttpStore(url, timeout=1).info()
                break
            except S.StoreUnavailable:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.05)
        yield url, tmp_path / "served"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_served_store_uses_the_chains_rounds_clock_and_committee(served, driver, oracle, ann):
    url, directory = served
    client = S.HttpStore(url, chain_id=chain.id, identity=url)
    assert client.info()["now"] == chain_now()
    rid = driver.open_round()
    S.register_live_ids(directory, rid, IDS)  # the fund writes the file into the running store's directory
    digest = client.upload_predictions(ann, rid, model("m"), GOOD)
    with refused(S.StoreForbidden, 403, "readable by nobody"):
        client.get_file(rid, digest)
    with refused(S.StoreForbidden, 403, f"{ann.address} may not publish"):
        client.publish_score_table(ann, rid, TABLE)
    driver.until(driver.tournament.round(rid)["closeTime"])
    assert client.get_file(rid, digest) == GOOD
    client.publish_score_table(oracle, rid, TABLE)
    assert client.get_score_table(rid) == TABLE


def test_served_store_takes_datasets_and_targets_from_the_chains_operators(served, driver, fund, ann):
    url, _ = served
    client = S.HttpStore(url, chain_id=chain.id, identity=url)
    with refused(S.StoreForbidden, 403, f"{ann.address} may not publish dataset files"):
        client.publish_dataset(ann, DATASET)
    rid = open_with(driver, client.publish_dataset(fund, DATASET), close_in=10, resolve_in=20)
    assert client.live_ids(rid) == sorted(IDS)  # no live_ids.csv: the round's dataset says
    digest = client.upload_predictions(ann, rid, model("m"), GOOD)
    driver.until(driver.tournament.round(rid)["resolveTime"])
    assert client.get_file(rid, digest) == GOOD
    assert client.publish_targets(fund, rid, TARGETS_OF) == web3.keccak(TARGETS_OF)
    assert client.get_targets(rid) == TARGETS_OF


# ------------------------------------------------------------------ several workers over one directory


def start_served(directory, deployments, *extra, port=None):
    """`crowdstake store serve` in its own process (on a free port unless `port`); returns (url, process)."""
    import subprocess
    import sys
    import time

    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "crowdstake.cli", "store", "serve", "--dir", str(directory),
                             "--port", str(port), "--rpc-url", web3.provider.endpoint_uri, "--deployments",
                             str(deployments), *extra], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            S.HttpStore(url, timeout=1).info()
            return url, proc
        except S.StoreUnavailable:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
    proc.terminate()
    raise AssertionError("the store did not start")


@pytest.fixture
def two_workers(runtime, tmp_path):
    """`crowdstake store serve --workers 2` over a fresh directory: (url, directory)."""
    url, proc = start_served(tmp_path / "served", tmp_path, "--workers", "2")
    try:
        yield url, tmp_path / "served"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def put_raw(url, rid, account, data, signed):
    import json

    return requests.put(f"{url}/rounds/{rid}/predictions/{account.address}/0x{model('m').hex()}", data=data,
                        headers={S.AUTH_HEADER: json.dumps(signed)}, timeout=60)


def test_two_workers_accept_one_signed_request_once(two_workers, driver, ann):
    url, directory = two_workers
    rid = driver.open_round()
    S.register_live_ids(directory, rid, IDS)
    for attempt in range(5):  # each time one signature, 32 requests at once over both workers
        data = csv_for(seed=attempt)
        signed = auth(ann, rid, data=data, identity=url)
        with ThreadPoolExecutor(32) as pool:
            statuses = sorted(r.status_code for r in pool.map(lambda _: put_raw(url, rid, ann, data, signed), range(32)))
        assert statuses == [201] + [409] * 31, statuses
    driver.until(driver.tournament.round(rid)["closeTime"])
    assert S.HttpStore(url).get_predictions(rid, ann.address, model("m")) == csv_for(seed=4)


def test_two_workers_refuse_a_replay_from_an_old_used_signatures_log(runtime, tmp_path, driver, ann):
    directory, port = tmp_path / "old-store", free_port()
    url = f"http://127.0.0.1:{port}"
    rid = driver.open_round()
    S.register_live_ids(directory, rid, IDS)
    signed = auth(ann, rid, identity=url)
    msg, _ = verify_request("upload", GOOD, signed, chain_id=chain.id, identity=url, round_id=rid,
                            extra={"staker": None, "modelId": None}, max_bytes=10**6, max_expiry=86400, clock=chain_now)
    (directory / "used_signatures.log").write_text(f"{msg['expiry']} {msg['digest'].hex()}\n")  # as an old store wrote it
    url, proc = start_served(directory, tmp_path, "--workers", "2", port=port)
    try:
        assert not (directory / "used_signatures.log").exists()
        r = put_raw(url, rid, ann, GOOD, signed)
        assert r.status_code == 409 and "replay" in r.json()["detail"], r.text
        assert S.HttpStore(url).upload_predictions(ann, rid, model("m"), GOOD) == web3.keccak(GOOD)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
