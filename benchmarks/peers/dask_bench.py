"""Dask distributed running the picompute workloads, for `pnpm bench -- --peers`.

Usage: /usr/bin/python3 dask_bench.py SCHEDULER_ADDRESS CORPUS_FILE QUICK [WORKLOADS]
WORKLOADS: a comma list of W1,W2,W3,W4,W6,W7 to run (default: all).
Prints one JSON object: figures per workload, each checked for the right answer.
Every task is submitted with pure=False so Dask cannot reuse a result.
"""
import hashlib
import importlib.util
import json
import os
import re
import signal
import sys
import time
from collections import Counter
from operator import add

import dask.bag as db
from distributed import Client

WORD = re.compile(r"[a-z']+")


def xorshift_hits(seed_points):
    seed, points = seed_points
    x = (seed & 0xFFFFFFFF) or 1
    hits = 0
    for _ in range(points):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        a = x / 4294967296
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        b = x / 4294967296
        if a * a + b * b <= 1:
            hits += 1
    return hits


def identity(x):
    return x


def count_partition(lines):
    c = Counter()
    for line in lines:
        c.update(WORD.findall(line.lower()))
    return [c]


def merge(a, b):
    a.update(b)
    return a


def count_one(total, _word):
    return total + 1


def words_frame(lines):
    import pandas as pd

    return pd.DataFrame({"word": [w for line in lines for w in WORD.findall(line.lower())]})


def digest(counts):
    """The counts as picompute's W7 bench digests them: sha256 of "word TAB count NEWLINE", words sorted."""
    h = hashlib.sha256()
    for word in sorted(counts):
        h.update(f"{word}\t{counts[word]}\n".encode("latin1"))
    return h.hexdigest()


def keyed_word_count(corpus, cores):
    """W7: word count as a keyed reduce, in Dask's keyed forms, each checked against the others."""
    import dask
    import dask.dataframe as dd
    import pandas as pd

    size_mb = os.path.getsize(corpus) / 1048576
    # latin1, as picompute reads the corpus (it is ASCII: the same words either way).
    lines = lambda: db.read_text(corpus, blocksize="1MiB", encoding="latin1")
    out = {"mb": size_mb}
    t = time.perf_counter()
    folded = dict(lines().map(lambda l: WORD.findall(l.lower())).flatten().foldby(lambda w: w, count_one, 0, add, 0).compute())
    out["foldby_ms"] = (time.perf_counter() - t) * 1000

    def frame():
        parts = [dask.delayed(words_frame)(p) for p in lines().to_delayed()]
        return dd.from_delayed(parts, meta=pd.DataFrame({"word": pd.Series([], dtype=object)}))

    # The P2P shuffle of this Dask (distributed 2022.12) moves its data as Arrow tables and needs pyarrow, which Debian 12 does not package.
    p2p = importlib.util.find_spec("pyarrow") is not None
    out["shuffle"] = "p2p" if p2p else "tasks"
    out["shuffle_why"] = "" if p2p else "task-based, since the P2P shuffle of Dask 2022.12 needs pyarrow, which Debian 12 does not package"
    partitions = 2 * cores
    t = time.perf_counter()
    shuffled = frame().groupby("word").size(split_out=partitions, shuffle=out["shuffle"]).compute()
    out["groupby_shuffle_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    tree = frame().groupby("word").size().compute()
    out["groupby_tree_ms"] = (time.perf_counter() - t) * 1000
    shuffled = {w: int(n) for w, n in shuffled.items()}
    tree = {w: int(n) for w, n in tree.items()}
    assert folded == shuffled == tree, "Dask's keyed forms disagree"
    out["partitions"] = partitions
    out["distinct"] = len(folded)
    out["total"] = sum(folded.values())
    out["digest"] = digest(folded)
    for form in ("foldby", "groupby_shuffle", "groupby_tree"):
        out[f"{form}_mb_s"] = size_mb / out[f"{form}_ms"] * 1000
    return out


def main():
    address, corpus, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    chosen = set(sys.argv[4].split(",")) if len(sys.argv) > 4 and sys.argv[4] else {"W1", "W2", "W3", "W4", "W6", "W7"}
    out = {}
    client = Client(address)
    cores = sum(client.nthreads().values())
    out["cores"] = cores

    # W1: tiny tasks returning their input.
    if "W1" in chosen:
        n = 2000 if quick else 10000
        client.gather(client.map(identity, range(100), pure=False))
        t = time.perf_counter()
        res = client.gather(client.map(identity, range(n), pure=False))
        ms = (time.perf_counter() - t) * 1000
        assert res == list(range(n))
        out["W1"] = {"tasks": n, "ms": ms, "tasks_per_s": n / ms * 1000}

    # W2: Monte Carlo pi with the same xorshift32 streams; fewer points, since pure Python is ~100x slower than JS here.
    if "W2" in chosen:
        tasks, points = (8, 20000) if quick else (64, 100000)
        slices = [(i + 1, points) for i in range(tasks)]
        t = time.perf_counter()
        single_hits = sum(xorshift_hits(s) for s in slices)
        single_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        hits = sum(client.gather(client.map(xorshift_hits, slices, pure=False)))
        ms = (time.perf_counter() - t) * 1000
        assert hits == single_hits
        out["W2"] = {"tasks": tasks, "points": points, "ms": ms, "single_ms": single_ms, "efficiency": single_ms / (ms * cores), "pi": 4 * hits / (tasks * points)}

    # W3: word count, dask.bag and its fast form (one Counter per partition).
    if "W3" in chosen:
        size_mb = __import__("os").path.getsize(corpus) / 1048576
        t = time.perf_counter()
        freq = dict(db.read_text(corpus, blocksize="1MiB").map(lambda l: WORD.findall(l.lower())).flatten().frequencies().compute())
        bag_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        parts = db.read_text(corpus, blocksize="1MiB").map_partitions(count_partition).fold(merge, merge, initial=Counter()).compute()
        fast_ms = (time.perf_counter() - t) * 1000
        assert dict(parts) == freq
        out["W3"] = {"mb": size_mb, "bag_ms": bag_ms, "bag_mb_s": size_mb / bag_ms * 1000, "counter_ms": fast_ms, "counter_mb_s": size_mb / fast_ms * 1000, "distinct": len(freq), "total": sum(freq.values())}

    # W6: the W2 shape with longer tasks; one worker SIGKILLed 2 s in (its nanny restarts it at once).
    if "W6" in chosen:
        tasks6, points6 = (8, 100000) if quick else (32, 400000)
        slices6 = [(i + 1, points6) for i in range(tasks6)]
        t = time.perf_counter()
        clean_hits = sum(client.gather(client.map(xorshift_hits, slices6, pure=False)))
        clean_ms = (time.perf_counter() - t) * 1000
        victim = sorted(client.run(os.getpid).items())[0][1]
        t = time.perf_counter()
        futures = client.map(xorshift_hits, slices6, pure=False)
        kill_at = 0.7 if quick else 2.0
        time.sleep(kill_at)
        os.kill(victim, signal.SIGKILL)
        hurt_hits = sum(client.gather(futures))
        hurt_ms = (time.perf_counter() - t) * 1000
        assert hurt_hits == clean_hits, (hurt_hits, clean_hits)
        out["W6"] = {"tasks": tasks6, "points": points6, "kill_at": kill_at, "clean_ms": clean_ms, "killed_ms": hurt_ms}
        client.wait_for_workers(cores, timeout=60)

    # W4: one trivial task, connected.
    if "W4" in chosen:
        times = []
        for _ in range(5 if quick else 50):
            t = time.perf_counter()
            assert client.submit(identity, 21, pure=False).result() == 21
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out["W4"] = {"median_ms": times[len(times) // 2]}

    # W7: keyed word count (a shuffle), in each of Dask's keyed forms.
    if "W7" in chosen:
        out["W7"] = keyed_word_count(corpus, cores)

    client.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
