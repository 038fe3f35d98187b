"""The replay memory and the pointers shared by the processes serving one store directory
(store/replay.py): real OS processes on a real SQLite file, racing; a replay refused after
reopening, its pointer untouched; an old log and old pointer files moved in."""

import multiprocessing
import sqlite3
import threading

import pytest

from crowdstake._fs import write_once
from crowdstake.errors import StoreConflict, StoreUnavailable
from crowdstake.store import replay
from crowdstake.store.replay import FILENAME, OLD_LOG, ReplayMemory

NOW = 1_000_000
RACES = 300


def digest(i: int) -> bytes:
    return i.to_bytes(32, "big")


def pointer(i: int, who: int) -> tuple:
    return (1, f"0x{i:040x}", "ab" * 32, f"0x{who:064x}")


def race(directory, start, results, who):
    """One worker: remember every digest the other worker also tries, each with a pointer that
    says who, and report the ones it won."""
    memory = ReplayMemory(directory, lambda: NOW)
    start.wait()
    won = []
    for i in range(RACES):
        try:
            memory.remember(digest(i), NOW + 600, NOW, pointer(i, who))
            won.append(i)
        except StoreConflict:
            pass
    results.put((who, won))


def test_of_two_processes_racing_with_one_signature_exactly_one_wins_each_time(tmp_path):
    ctx = multiprocessing.get_context("spawn")  # nothing shared but the directory
    start, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=race, args=(tmp_path, start, results, who)) for who in (0, 1)]
    for w in workers:
        w.start()
    won = dict(results.get(timeout=120) for _ in workers)
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0
    assert set(won[0]).isdisjoint(won[1]), "two workers accepted one signature"
    assert sorted(won[0] + won[1]) == list(range(RACES)), "a signature was accepted by nobody"
    memory = ReplayMemory(tmp_path, lambda: NOW)
    for who in (0, 1):  # each pointer is its signature's winner's: written in the same transaction
        assert all(memory.pointer(*pointer(i, who)[:3]) == pointer(i, who)[3] for i in won[who])


def test_threads_of_one_process_each_win_a_signature_once_through_group_commits(tmp_path):
    memory = ReplayMemory(tmp_path, lambda: NOW)
    threads, won = 6, {}
    start = threading.Barrier(threads)

    def run(who):
        start.wait()
        won[who] = []
        for i in range(RACES):
            try:
                memory.remember(digest(i), NOW + 600, NOW, pointer(i, who))
                won[who].append(i)
            except StoreConflict:
                pass

    workers = [threading.Thread(target=run, args=(who,)) for who in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert sorted(i for ids in won.values() for i in ids) == list(range(RACES)), "a signature won twice or never"
    for who, ids in won.items():  # each pointer is its signature's winner's
        assert all(memory.pointer(*pointer(i, who)[:3]) == pointer(i, who)[3] for i in ids)


def test_a_replay_inside_a_group_commit_is_refused_alone(tmp_path):
    memory = ReplayMemory(tmp_path, lambda: NOW)
    batch = [replay._Pending((digest(1), NOW + 600), None, pointer(1, 1)),
             replay._Pending((digest(1), NOW + 600), (1, digest(8), b"replayed"), pointer(1, 2)),
             replay._Pending((digest(2), NOW + 600), (1, digest(9), b"kept"), pointer(2, 3))]
    with memory.lock:
        memory._commit(batch)
    assert all(e.done for e in batch)
    assert batch[0].error is None and batch[2].error is None and isinstance(batch[1].error, StoreConflict)
    for i, who in ((1, 1), (2, 3)):  # the replay's pointer is not written
        assert memory.pointer(*pointer(i, who)[:3]) == pointer(i, who)[3]
    assert memory.file(1, digest(8)) is None and memory.file(1, digest(9)) == b"kept"


def test_a_replay_leaves_the_pointer_as_it_was(tmp_path):
    memory = ReplayMemory(tmp_path, lambda: NOW)
    memory.remember(digest(1), NOW + 600, NOW, pointer(7, 1))
    with pytest.raises(StoreConflict, match="replay"):
        memory.remember(digest(1), NOW + 600, NOW, pointer(7, 2))
    assert memory.used(digest(1)) and not memory.used(digest(2))
    assert memory.pointer(*pointer(7, 1)[:3]) == pointer(7, 1)[3]
    memory.remember(digest(2), NOW + 600, NOW, pointer(7, 3))  # a re-upload: the pointer moves
    memory.remember(digest(3), NOW + 600, NOW, (2, *pointer(7, 4)[1:]))  # another round's: apart
    assert memory.pointers(1) == [pointer(7, 3)[1:]] and memory.pointers(2) == [pointer(7, 4)[1:]]


def test_a_replay_is_refused_after_reopening(tmp_path):
    ReplayMemory(tmp_path, lambda: NOW).remember(digest(1), NOW + 600, NOW)
    reopened = ReplayMemory(tmp_path, lambda: NOW + 10)
    with pytest.raises(StoreConflict, match=r"used already \(a replay\): sign a new one"):
        reopened.remember(digest(1), NOW + 600, NOW + 10)
    reopened.remember(digest(2), NOW + 600, NOW + 10)  # another signature is fine


def test_expired_signatures_are_forgotten_on_open(tmp_path):
    memory = ReplayMemory(tmp_path, lambda: NOW)
    memory.remember(digest(1), NOW + 5, NOW)
    memory.remember(digest(2), NOW + 600, NOW)
    memory.close()
    ReplayMemory(tmp_path, lambda: NOW + 100).close()
    rows = sqlite3.connect(tmp_path / FILENAME).execute("SELECT digest FROM used").fetchall()
    assert [bytes(r[0]) for r in rows] == [digest(2)]


def test_the_database_is_in_wal_mode(tmp_path):
    ReplayMemory(tmp_path, lambda: NOW).close()
    assert sqlite3.connect(tmp_path / FILENAME).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_an_old_log_is_moved_in_on_first_open_and_removed(tmp_path):
    log = tmp_path / OLD_LOG
    log.write_text(f"{NOW + 600} {digest(1).hex()}\n{NOW - 1} {digest(2).hex()}\n{NOW + 600} {digest(3).hex()[:20]}")
    memory = ReplayMemory(tmp_path, lambda: NOW)
    assert not log.exists()
    with pytest.raises(StoreConflict, match="replay"):
        memory.remember(digest(1), NOW + 600, NOW)  # unexpired: still refused
    memory.remember(digest(2), NOW + 600, NOW)  # expired in the log: forgotten
    memory.remember(digest(3), NOW + 600, NOW)  # a torn last line: skipped
    with pytest.raises(StoreConflict, match="replay"):
        ReplayMemory(tmp_path, lambda: NOW).remember(digest(1), NOW + 600, NOW)  # and after reopening


def test_an_old_log_given_by_its_path_names_the_directory(tmp_path):
    (tmp_path / OLD_LOG).write_text(f"{NOW + 600} {digest(1).hex()}\n")
    memory = ReplayMemory(tmp_path / OLD_LOG, lambda: NOW)
    assert memory.path == tmp_path / FILENAME
    with pytest.raises(StoreConflict):
        memory.remember(digest(1), NOW + 600, NOW)


def test_an_upload_is_kept_whole_or_not_at_all(tmp_path, monkeypatch):
    memory = ReplayMemory(tmp_path, lambda: NOW)
    memory.remember(digest(1), NOW + 600, NOW, pointer(7, 1), (1, digest(9), b"id,prediction\na,0.5\n"))
    assert memory.file(1, digest(9)) == b"id,prediction\na,0.5\n" and memory.file(2, digest(9)) is None
    with pytest.raises(StoreConflict):  # a replay: not a byte of it kept
        memory.remember(digest(1), NOW + 600, NOW, pointer(7, 2), (1, digest(8), b"other"))
    assert memory.file(1, digest(8)) is None and memory.pointer(*pointer(7, 1)[:3]) == pointer(7, 1)[3]
    monkeypatch.setattr(replay, "POINT", "INSERT INTO nowhere VALUES (?, ?, ?, ?)")  # fails after the file's insert
    with pytest.raises(StoreUnavailable):
        memory.remember(digest(2), NOW + 600, NOW, pointer(8, 3), (1, digest(7), b"half"))
    assert not memory.used(digest(2)) and memory.file(1, digest(7)) is None and memory.pointers(1) == [pointer(7, 1)[1:]]


def test_old_pointer_files_are_moved_in_on_first_open_and_removed(tmp_path):
    old = tmp_path / "rounds" / "3" / "pointers"
    old.mkdir(parents=True)
    (old / f"0x{1:040x}-{'cd' * 32}").write_text(f"0x{5:064x}\n")
    (old / f"0x{2:040x}-{'ef' * 32}").write_text(f"0x{6:064x}\n")
    (old / ".tmp-x1y2").write_text("a crash's leftover")
    memory = ReplayMemory(tmp_path, lambda: NOW)
    assert memory.pointers(3) == [(f"0x{1:040x}", "cd" * 32, f"0x{5:064x}"), (f"0x{2:040x}", "ef" * 32, f"0x{6:064x}")]
    assert [p.name for p in old.iterdir()] == [".tmp-x1y2"]
    memory.remember(digest(1), NOW + 600, NOW, (3, f"0x{1:040x}", "cd" * 32, f"0x{9:064x}"))
    (old / f"0x{1:040x}-{'cd' * 32}").write_text(f"0x{5:064x}\n")  # as if a crash had left it before its removal
    assert ReplayMemory(tmp_path, lambda: NOW).pointer(3, f"0x{1:040x}", "cd" * 32) == f"0x{9:064x}"  # the newer row kept


def write(path, data, results):
    results.put(write_once(path, data))


def test_write_once_lets_one_of_many_processes_write(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    path = tmp_path / "r" / "targets.csv"
    writers = [ctx.Process(target=write, args=(path, f"writer {i}\n".encode(), results)) for i in range(4)]
    for w in writers:
        w.start()
    outcomes = [results.get(timeout=60) for _ in writers]
    for w in writers:
        w.join(timeout=30)
    assert outcomes.count(True) == 1
    assert path.read_bytes().startswith(b"writer ")
    assert not write_once(path, b"again\n") and path.read_bytes() != b"again\n"
    assert [p.name for p in path.parent.iterdir()] == ["targets.csv"]  # no temporary file left
