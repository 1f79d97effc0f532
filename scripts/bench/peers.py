"""The other side of every benchmark: what a user would write instead of a sweep.

Each peer runs in a fresh interpreter (`/usr/bin/python3 peers.py NAME [ARGS...]`) so that no
peer inherits another one's memory, worker pool or page-table state, and prints one JSON object
on stdout: `seconds`, the wall time of the part the benchmark compares (which includes creating
and tearing down the worker pool, since `sweep run` includes starting its workers), plus whatever
the harness checks the result with. The code is what the Python documentation and the joblib
documentation show, at its best settings: the harness picks Pool's chunksize, and joblib keeps
its defaults (automatic memmapping of arrays above 1 MB).
"""
import json
import multiprocessing as mp
import sys
import time
from multiprocessing import shared_memory

import numpy as np


def report(**fields):
    print(json.dumps(fields), flush=True)


# --- 1. dispatch: Pool.map of x*x over range(n), gathered into a list ---------------------------


def square(x):
    return x * x


def dispatch(n, workers, chunksize):
    # chunksize 0: Pool's default, len / (4 * workers) rounded up.
    start = time.perf_counter()
    with mp.Pool(workers) as pool:
        ys = pool.map(square, range(n), chunksize=chunksize or None)
    seconds = time.perf_counter() - start
    if len(ys) != n or ys[-1] != (n - 1) * (n - 1):
        raise SystemExit("dispatch: wrong results")
    report(seconds=seconds)


def dispatch_joblib(n, workers):
    # joblib's documented form, at its defaults (auto batching of the tasks).
    from joblib import Parallel, delayed

    start = time.perf_counter()
    ys = Parallel(n_jobs=workers)(delayed(square)(x) for x in range(n))
    seconds = time.perf_counter() - start
    if len(ys) != n or ys[-1] != (n - 1) * (n - 1):
        raise SystemExit("dispatch_joblib: wrong results")
    report(seconds=seconds)


# --- 2. shared input: every task sums the whole array ---------------------------------------------


def scales(points):
    # The same values as the sweep's `scale: {linspace: [1, 2, points]}`.
    return [float(s) for s in np.linspace(1.0, 2.0, points)]


def scaled_sum(array, scale):
    return float(array.sum()) * scale


def shared_ideal(path, points):
    # The floor: one process, the array already in its memory, no workers; halved for 2 cores.
    array = np.load(path)
    array.sum()  # first touch of the freshly read pages is not part of the floor
    start = time.perf_counter()
    sums = [scaled_sum(array, s) for s in scales(points)]
    seconds = time.perf_counter() - start
    report(seconds=seconds, sums=sums)


def shared_pickle(path, points, workers):
    # What Pool does with an array argument: pickles it into every task.
    start = time.perf_counter()
    array = np.load(path)
    with mp.Pool(workers) as pool:
        sums = pool.starmap(scaled_sum, [(array, s) for s in scales(points)], chunksize=1)
    report(seconds=time.perf_counter() - start, sums=sums)


_shared = None


def _attach(name, shape):
    global _shared
    memory = shared_memory.SharedMemory(name=name)
    _shared = (memory, np.ndarray(shape, dtype=np.float64, buffer=memory.buf))


def shm_scaled_sum(scale):
    return scaled_sum(_shared[1], scale)


def shared_shm(path, points, workers):
    # The documented way to share an array with a Pool: copy it once into a SharedMemory block,
    # attach it in every worker (once, in the initializer), pass only the name.
    start = time.perf_counter()
    source = np.load(path, mmap_mode="r")
    memory = shared_memory.SharedMemory(create=True, size=source.nbytes)
    try:
        array = np.ndarray(source.shape, dtype=np.float64, buffer=memory.buf)
        array[...] = source
        with mp.Pool(workers, initializer=_attach, initargs=(memory.name, source.shape)) as pool:
            sums = pool.map(shm_scaled_sum, scales(points), chunksize=1)
        seconds = time.perf_counter() - start
        del array
    finally:
        memory.close()
        memory.unlink()
    report(seconds=seconds, sums=sums)


def shared_joblib(path, points, workers):
    from joblib import Parallel, delayed

    start = time.perf_counter()
    array = np.load(path)
    sums = Parallel(n_jobs=workers)(delayed(scaled_sum)(array, s) for s in scales(points))
    report(seconds=time.perf_counter() - start, sums=sums)


# --- 3. memory: workers hold the array while the harness samples their PSS ------------------------


def sum_and_hold(array, scale, hold):
    total = float(array.sum()) * scale
    time.sleep(hold)
    return total


def memory_joblib(path, workers, hold):
    from joblib import Parallel, delayed

    array = np.load(path)
    start = time.perf_counter()
    Parallel(n_jobs=workers)(delayed(sum_and_hold)(array, s, hold) for s in range(workers))
    report(seconds=time.perf_counter() - start)


def memory_pickle(path, workers, hold):
    array = np.load(path)
    start = time.perf_counter()
    with mp.Pool(workers) as pool:
        pool.starmap(sum_and_hold, [(array, s, hold) for s in range(workers)], chunksize=1)
    report(seconds=time.perf_counter() - start)


# --- 4. gather: h5py writes the same rows in one call ----------------------------------------------


def gather_h5py(path, points, row_bytes):
    rows = np.empty((points, row_bytes // 8), dtype=np.float64)
    rows[...] = np.arange(points, dtype=np.float64)[:, None]  # what the `fill` kernel writes
    start = time.perf_counter()
    with __import__("h5py").File(path, "w") as f:
        f.create_dataset("row", data=rows)
    report(seconds=time.perf_counter() - start, bytes=rows.nbytes)


PEERS = {
    "dispatch": (dispatch, (int, int, int)),
    "dispatch_joblib": (dispatch_joblib, (int, int)),
    "shared_ideal": (shared_ideal, (str, int)),
    "shared_pickle": (shared_pickle, (str, int, int)),
    "shared_shm": (shared_shm, (str, int, int)),
    "shared_joblib": (shared_joblib, (str, int, int)),
    "memory_joblib": (memory_joblib, (str, int, float)),
    "memory_pickle": (memory_pickle, (str, int, float)),
    "gather_h5py": (gather_h5py, (str, int, int)),
}

if __name__ == "__main__":
    function, types = PEERS[sys.argv[1]]
    function(*(t(a) for t, a in zip(types, sys.argv[2:])))
