"""The submission store over real HTTP on loopback (uvicorn in a thread) against the anvil chain;
the core cases also against the LocalStore backend. The store's clock is the chain's."""

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
from crowdstake._server import ServerThread, free_port
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
    """A LocalStore on the chain's rounds and committee; its clock the chain's unless `now` is given."""
    round_times, chain_clock = S.chain_clock(runtime)
    return S.LocalStore(directory, round_times, runtime.w3.eth.chain_id, IDENTITY, now=now or chain_clock,
                        publishers=S.committee_members(runtime), **kwargs)


@pytest.fixture
def server(local):
    """The store service over `local`; every test that uses it also checks that no request got a
    5xx: bad input is always a 4xx with a JSON `detail`."""
    app = S.create_app(local, None, None, None)
    statuses = []

    @app.middleware("http")
    async def record(request, call_next):
        try:
            response = await call_next(request)
        except Exception:
            statuses.append(500)  # uncaught: Starlette answers a plain-text 500
            raise
        statuses.append(response.status_code)
        return response

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
    with refused(S.StoreUnauthorized, 401, f"the signature expired at {pinned - 1} \\(chain time now {pinned}\\)"):
        store.put_predictions(GOOD, auth(ann, rid, expiry=pinned - 1))
    assert store.put_predictions(GOOD, auth(ann, rid, expiry=pinned)) == web3.keccak(GOOD)


def test_far_future_expiry_is_refused(backend, ann, rid):
    with refused(S.StoreBadRequest, 400, "more than 86400 s after chain time"):
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
    bad_file(backend, ann, rid, csv_for(ids=IDS[:-2]), r"line 20: the file ends with 2 live id\(s\) missing, first 'n0018'")


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


def test_crashed_write_leaves_no_partial_file(local, runtime, monkeypatch, ann, rid):
    def crash(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(_fs.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        local.upload_predictions(ann, rid, model("m"), GOOD)
    monkeypatch.undo()
    files = local.directory / "rounds" / str(rid) / "files"
    assert list(files.iterdir()) == []
    close(runtime, rid)
    assert local.submissions(rid) == []


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
