"""Benchmarks of `sweep run` against what its users would pick instead (issue 7).

Eight workloads, each measured on both sides in the same invocation, sweep and its peer
alternated (the order flips every repetition so neither side always runs on a warmer machine),
each figure the median of --reps runs. Every sweep figure is the wall time of a whole
`sweep run` process: startup, creating the output file, mapping the inputs, starting the
workers, computing, and closing the file. Every peer runs in a fresh interpreter (peers.py) and
times its own pool from creation to gathered results; only the startup workload times the
interpreter as well, since that is what it is about. Inputs are read once before a workload so
both sides find them in the page cache. After the timed runs, the last output of every sweep
is checked against numpy, so a fast wrong answer fails the benchmark.

`run` (the script next to this file) builds the Release binary and calls this with --sweep.
Prints one markdown table; writes the same rows, every individual run and the machine's state
as JSON. With --quick every workload runs small, and the exit status says only whether
everything ran and gave right results; speeds are printed but never judged.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # the interpreter with numpy, h5py and joblib (Debian packages)
MiB = 1 << 20

FULL = dict(
    reps=5,
    dispatch_points=20_000_000,
    dispatch_chunksizes=[1_000, 10_000, 100_000, 1_000_000, None],
    shared_bytes=512 * MiB,
    shared_points=16,
    memory_bytes=1024 * MiB,
    memory_workers=[2, 8],
    memory_hold=3.0,
    gather_points=1_000_000,
    gather_row_bytes=1024,
    scaling_points=1000,
    scaling_steps=100_000,
    command_runs=2000,
    chunk_points=200_000,
    mpi_points=24,
    mpi_sleep_ms=250,
    mpi_chunks=100_000,
    mpi_auto_points=20_000_000,
    start_grids=[1_000, 10_000, 31_623],  # square grids: 10^6, 10^8 and 10^9 points
    journal_chunks=[1_000_000, 10_000_000],
    bigconfig_values=500_000,  # a `values:` list of 10 MB
    grow_steps=100_000,  # lorenz RK4 steps a point: 101 x 3 grown to 201 x 5
    copy_side=10_000,    # a 10^4 x 10^4 grid of `square`, doubled along its outer axis
    py1_points=1_000_000,
    py2_points=10_000_000,
    py2_chunksizes=[10_000, 100_000, 1_000_000],
    py3_bytes=512 * MiB,
    py3_points=16,
    py3_hold=3.0,
    stream_points=10_000,
    stream_peer_points=1_000,  # a process per point costs the same at any count
    stream_reps=3,
    replace_load_ms=1000,
)
QUICK = dict(
    reps=1,
    dispatch_points=200_000,
    dispatch_chunksizes=[1_000, 10_000],
    shared_bytes=8 * MiB,
    shared_points=16,
    memory_bytes=16 * MiB,
    memory_workers=[2, 8],
    memory_hold=0.5,
    gather_points=10_000,
    gather_row_bytes=1024,
    scaling_points=100,
    scaling_steps=10_000,
    command_runs=100,
    chunk_points=5_000,
    mpi_points=6,
    mpi_sleep_ms=50,
    mpi_chunks=2_000,
    mpi_auto_points=200_000,
    start_grids=[1_000, 3_163],
    journal_chunks=[100_000],
    bigconfig_values=20_000,
    grow_steps=2_000,
    copy_side=300,
    py1_points=20_000,
    py2_points=200_000,
    py2_chunksizes=[10_000],
    py3_bytes=8 * MiB,
    py3_points=16,
    py3_hold=0.5,
    stream_points=300,
    stream_peer_points=20,
    stream_reps=1,
    replace_load_ms=200,
)
WORKLOADS = ["dispatch", "shared", "memory", "gather", "startup", "scaling", "command", "chunk",
             "mpi", "start", "journal", "bigconfig", "reuse", "py1", "py2", "py3", "stream",
             "replace"]
MPIRUN = ["mpirun", "--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])


class Failed(Exception):
    """A workload did not run, or ran and gave wrong results."""


class NotRun(Exception):
    """A workload that this build of sweep cannot run (a feature not merged yet)."""


# --- measuring ---------------------------------------------------------------------------------


def median(values):
    return statistics.median(values)


def alternate(reps, sides):
    """Runs every side once per repetition, rotating which goes first; returns each side's list.
    Before each run, dirty pages are flushed (untimed), so no side pays for writing back what
    the one before it wrote (the gather and dispatch sweeps leave up to 1 GB of them)."""
    runs = {name: [] for name in sides}
    names = list(sides)
    for rep in range(reps):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            os.sync()
            runs[name].append(sides[name]())
    return runs


def children_of():
    """Maps each pid to its children, from the ppid field of every /proc/<pid>/stat."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_sampling_pss(argv, interval=0.05):
    """Runs argv; returns (wall seconds, stdout, peak summed PSS in KiB of the process and all its
    descendants, peak summed PSS of its descendants only), sampling every `interval` seconds.

    The processes' PSS cannot be read at one instant, and while they map an array, one read
    early (when it was the array's only mapper, charged all of it) and another read late add up
    to more than exists. So a sample counts only if reading every process twice in a row gave
    the same figures; while the workers hold the array (the workloads sleep for that), they do."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree = peak_children = 0
    stable_samples = 0
    while proc.poll() is None:
        children = []
        links = children_of()
        frontier = list(links.get(proc.pid, []))
        while frontier:
            pid = frontier.pop()
            children.append(pid)
            frontier.extend(links.get(pid, []))
        pids = [proc.pid] + children
        first = [pss_kib(p) for p in pids]
        second = [pss_kib(p) for p in pids]
        if children and all(abs(a - b) <= max(256, a // 200) for a, b in zip(first, second)):
            stable_samples += 1
            peak_children = max(peak_children, sum(second[1:]))
            peak_tree = max(peak_tree, sum(second))
        time.sleep(interval)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise Failed(f"{' '.join(argv[:3])}... exited {proc.returncode}: {err.strip()[-400:]}")
    if stable_samples == 0:
        raise Failed(f"{' '.join(argv[:3])}...: no stable PSS sample (hold the workers longer)")
    return time.perf_counter() - start, out, peak_tree, peak_children


def journal_records(path):
    """The records of a sweep journal (io/journal.h) as dicts, up to the first damaged one:
    the framed records of versions 2 and 3 (their XXH32 checks are not verified here) or
    version 1's lines."""
    with open(path, "rb") as f:
        data = f.read()
    at = data.index(b"\n") + 1
    if json.loads(data[:at])["version"] == 1:
        return [json.loads(line) for line in data[at:].splitlines() if line.strip()]
    records = []
    while at + 8 <= len(data) and data[at] == 0xC1:
        kind, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "little")
        payload = data[at + 4 : at + 4 + length]
        if kind == ord("D"):  # version 3 adds start_time and max_rss (KiB) to version 2's
            layout = "<dQQdiIdI" if length == 52 else "<dQQdiI"
            fields = struct.unpack(layout, payload)
            records.append(dict(zip(("time", "chunk", "checksum", "seconds", "worker",
                                     "attempt", "start_time", "max_rss_kib"), fields),
                                type="done"))
        else:
            records.append(json.loads(payload))
        at += 8 + length
    return records


def run_rusage(argv):
    """Runs argv under GNU time; returns (wall seconds, its peak RSS in MiB, stdout). GNU time
    is a small program that forks and execs argv: a child of this interpreter would report the
    interpreter's own RSS (numpy, h5py) as its peak, since a process's peak survives exec."""
    with tempfile.NamedTemporaryFile() as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + argv,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise Failed(f"{' '.join(argv[:3])}... exited {proc.returncode}: "
                         f"{proc.stderr.strip()[-400:]}")
        return seconds, int(open(rss.name).read().split()[-1]) / 1024, proc.stdout


class MachineLoad:
    """CPU time that other processes used while a workload ran, as a share of the machine: the
    busy time in /proc/stat minus this harness's own and its waited-for children's. Other
    helpers share this machine; a workload measured while they were busy is noted as such."""

    def __init__(self):
        self.busy0, self.own0, self.wall0 = self._busy(), self._own(), time.perf_counter()

    @staticmethod
    def _busy():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own():
        total = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            total += usage.ru_utime + usage.ru_stime
        return total

    def others_share(self):
        wall = time.perf_counter() - self.wall0
        foreign = (self._busy() - self.busy0) - (self._own() - self.own0)
        return min(1.0, max(0.0, foreign / (wall * os.cpu_count()))) if wall > 0 else 0.0


# --- the harness -------------------------------------------------------------------------------


class Bench:
    def __init__(self, sweep, work, quick, reps):
        self.sweep = os.path.abspath(sweep)
        self.work = os.path.abspath(work)
        self.quick = quick
        self.size = dict(QUICK if quick else FULL)
        if reps:
            self.size["reps"] = reps
        self.reps = self.size["reps"]
        os.makedirs(self.work, exist_ok=True)
        self.bin = os.path.join(self.work, "bin")
        os.makedirs(self.bin, exist_ok=True)
        for program in ("pingpong", "yprint", "floor"):
            subprocess.run(
                ["cc", "-O2", "-pthread", "-o", os.path.join(self.bin, program),
                 os.path.join(HERE, program + ".c")],
                check=True,
            )

    # sweep's side

    def config(self, name, text):
        path = os.path.join(self.work, name + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def output(self, name):
        return os.path.join(self.work, name + ".h5")

    def clear(self, out):
        for suffix in ("", ".journal", ".lock"):
            if os.path.exists(out + suffix):
                os.remove(out + suffix)
        shutil.rmtree(out + ".logs", ignore_errors=True)

    def sweep_argv(self, config, out, args):
        return [self.sweep, "run", config, "-o", out, "-q"] + list(args)

    def run_sweep(self, config, out, *args):
        """Wall seconds of one `sweep run`, the previous output removed first (not timed)."""
        self.clear(out)
        argv = self.sweep_argv(config, out, args)
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise Failed(f"sweep run {os.path.basename(config)} exited {proc.returncode}: "
                         f"{proc.stderr.strip()[-400:]}")
        return seconds

    def check_done(self, out, dataset):
        with h5py.File(out, "r") as f:
            status = f["chunks/status"][...]
            if not (status == 1).all():
                raise Failed(f"{out}: {(status != 1).sum()} chunks not done")
            return f[dataset][...]

    # the peers' side

    def peer(self, name, *args):
        argv = [PYTHON, os.path.join(HERE, "peers.py"), name] + [str(a) for a in args]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise Failed(f"peer {name} exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def timed(self, argv, **kwargs):
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              **kwargs)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise Failed(f"{argv[0]} exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
        return seconds, proc.stdout

    # inputs

    def npy(self, name, nbytes):
        """A float64 .npy file of nbytes of data (uniform [0,1), seed 1), made once and kept;
        read through once so that both sides of a workload find it in the page cache."""
        path = os.path.join(self.work, f"{name}-{nbytes // MiB}MiB.npy")
        n = nbytes // 8
        try:
            ok = np.load(path, mmap_mode="r").shape == (n,)
        except (OSError, ValueError):
            ok = False
        if not ok:
            array = np.empty(n)
            rng = np.random.default_rng(1)
            step = 16 * MiB
            for i in range(0, n, step):
                array[i : i + step] = rng.random(min(step, n - i))
            np.save(path + ".tmp.npy", array)
            os.replace(path + ".tmp.npy", path)
            del array
        with open(path, "rb") as f:
            while f.read(16 * MiB):
                pass
        return path

    # --- 1. dispatch ---------------------------------------------------------------------------

    def dispatch(self):
        n = self.size["dispatch_points"]
        config = self.config("dispatch", f"""\
name: dispatch
kernel: {{name: square}}
parameters:
  x: {{range: [0, {n}]}}
execution: {{workers: 2, chunk_size: auto}}
""")
        out = self.output("dispatch")
        # Pool.map at its best chunksize: one calibration run of each (0: Pool's default,
        # len / (4 * workers)), then the winner only.
        calibration = {}
        for chunksize in self.size["dispatch_chunksizes"]:
            calibration[chunksize or 0] = self.peer("dispatch", n, 2, chunksize or 0)["seconds"]
        best = min(calibration, key=calibration.get)
        # The floor: as many bytes as sweep's output file, written into a new file by as many
        # threads as workers (floor.c). One untimed sweep run gives the size.
        self.run_sweep(config, out)
        nbytes = os.path.getsize(out)
        floor_out = os.path.join(self.work, "dispatch-floor.bin")

        def floor():
            if os.path.exists(floor_out):
                os.remove(floor_out)  # untimed, as sweep's previous output is
            seconds = self.timed([os.path.join(self.bin, "floor"), floor_out, str(nbytes), "2"])[0]
            if os.path.getsize(floor_out) != nbytes:
                raise Failed("dispatch: the floor wrote a file of another size")
            return seconds

        runs = alternate(self.reps, {
            "sweep": lambda: self.run_sweep(config, out),
            "peer": lambda: self.peer("dispatch", n, 2, best)["seconds"],
            "floor": floor,
        })
        os.remove(floor_out)
        y = self.check_done(out, "y")
        if not np.array_equal(y, np.arange(n, dtype=np.float64) ** 2):
            raise Failed("dispatch: /y is not x*x")
        if not np.array_equal(self.check_done(out, "x"), np.arange(n, dtype=np.int64)):
            raise Failed("dispatch: /x is not 0, 1, ..., n - 1")
        s, p = n / median(runs["sweep"]), n / median(runs["peer"])
        fastest, floor_fastest = min(runs["sweep"]), min(runs["floor"])
        return [row("1", f"dispatch: `square`, {n:,} points, 2 workers, gathered",
                    (s / 1e6, "M points/s", [n / t / 1e6 for t in runs["sweep"]]),
                    (p / 1e6, "M points/s", [n / t / 1e6 for t in runs["peer"]]),
                    # 15x, not the 50x first set: its 16 bytes of output a point at 50x Pool's
                    # rate would be written faster than the floor of row 1b writes them.
                    f"`Pool(2).map`, best chunksize ({best or 'default'})", s / p, (">=", 15),
                    extra={"pool_calibration_seconds": calibration,
                           "sweep_seconds": runs["sweep"], "peer_seconds": runs["peer"]}),
                row("1b", f"dispatch: the same sweep, whole run, best of {len(runs['sweep'])}",
                    (fastest, "s", runs["sweep"]), (floor_fastest, "s", runs["floor"]),
                    f"floor: 2 threads write its file's {nbytes / 1e6:,.0f} MB into a new file "
                    f"(`floor.c`), best of {len(runs['floor'])}", fastest / floor_fastest,
                    ("<=", 2), ratio_note="sweep / floor")]

    # --- 2. shared input -------------------------------------------------------------------------

    def shared(self):
        nbytes, points = self.size["shared_bytes"], self.size["shared_points"]
        data = self.npy("shared", nbytes)
        config = self.config("shared", f"""\
name: shared
kernel: {{name: array_sum}}
inputs:
  data: {{npy: {data}}}
parameters:
  scale: {{linspace: [1, 2, {points}]}}
execution: {{workers: 2, chunk_size: 1}}
""")
        out = self.output("shared")
        peers = {}
        runs = alternate(self.reps, {
            "sweep": lambda: self.run_sweep(config, out),
            "ideal": lambda: self._keep(peers, "ideal", self.peer("shared_ideal", data, points)),
            "pickle": lambda: self._keep(peers, "pickle",
                                         self.peer("shared_pickle", data, points, 2)),
            "shm": lambda: self._keep(peers, "shm", self.peer("shared_shm", data, points, 2)),
            "joblib": lambda: self._keep(peers, "joblib",
                                         self.peer("shared_joblib", data, points, 2)),
        })
        sums = self.check_done(out, "sum")
        expected = np.asarray(peers["ideal"]["sums"])
        for name, result in peers.items():
            if not np.allclose(result["sums"], expected, rtol=1e-9):
                raise Failed(f"shared: the {name} peer's sums differ from numpy's")
        if not np.allclose(sums, expected, rtol=1e-9):
            raise Failed("shared: /sum differs from numpy's sum times scale")
        runs["ideal"] = [t / 2 for t in runs["ideal"]]
        s = median(runs["sweep"])
        what = f"shared input: `array_sum`, {nbytes // MiB} MiB npy, {points} points, 2 workers"
        rows = [row("2a", what, (s, "s", runs["sweep"]), (median(runs["ideal"]), "s", runs["ideal"]),
                    "ideal: serial numpy sums in one process / 2", s / median(runs["ideal"]),
                    ("<=", 1.3), ratio_note="sweep / ideal")]
        for key, label, target in (("joblib", "joblib `Parallel(n_jobs=2)`, auto memmap", 10),
                                   ("pickle", "`Pool(2)`, array pickled into each task", None),
                                   ("shm", "`Pool(2)` + `shared_memory` (copied in once)", None)):
            p = median(runs[key])
            rows.append(row("2" + "bcd"[len(rows) - 1], what, (s, "s", runs["sweep"]),
                            (p, "s", runs[key]), label, p / s, (">=", target) if target else None,
                            ratio_note="peer / sweep"))
        return rows

    @staticmethod
    def _keep(store, name, result):
        store[name] = result
        return result["seconds"]

    # --- 3. memory -------------------------------------------------------------------------------

    def memory(self):
        nbytes, hold = self.size["memory_bytes"], self.size["memory_hold"]
        data = self.npy("memory", nbytes)
        rows = []
        for workers in self.size["memory_workers"]:
            config = self.config(f"memory{workers}", f"""\
name: memory{workers}
kernel: {{name: array_sum, options: {{sleep_ms: {hold * 1000:g}}}}}
inputs:
  data: {{npy: {data}}}
parameters:
  scale: {{range: [0, {workers}]}}
execution: {{workers: {workers}, chunk_size: 1}}
""")
            out = self.output(f"memory{workers}")
            sides = {
                "sweep": lambda: self._sweep_pss(config, out),
                "joblib": lambda: self._peer_pss("memory_joblib", data, workers, hold),
            }
            if workers == 2:  # at 8 workers Pool+pickle would hold 9 copies of the input
                sides["pickle"] = lambda: self._peer_pss("memory_pickle", data, workers, hold)
            runs = alternate(self.reps, sides)
            # Each point sums the input times its scale (array_sum): checked against numpy.
            sums = self.check_done(out, "sum")
            expected = np.arange(workers) * np.load(data, mmap_mode="r").sum()
            if not np.allclose(sums, expected, rtol=1e-9):
                raise Failed(f"memory: /sum of {workers} workers is not scale * sum(input)")
            sweep_tree = [r[0] for r in runs["sweep"]]
            sweep_workers = [r[1] for r in runs["sweep"]]
            s = median(sweep_tree)
            limit = nbytes / MiB + 30 * workers
            what = (f"memory: peak summed PSS of sweep's processes, {workers} workers sharing "
                    f"a {nbytes // MiB} MiB npy input")
            for key, label in (("joblib", "joblib, auto memmap"), ("pickle", "`Pool`, pickled")):
                if key not in runs:
                    continue
                p = median(runs[key])
                rows.append(row(f"3{'abcd'[len(rows)]}", what, (s, "MiB", sweep_tree),
                                (p, "MiB", runs[key]), label, s / p,
                                f"sweep <= {limit:g} MiB", s <= limit,
                                extra={"sweep_workers_only_MiB": sweep_workers,
                                       "limit_MiB": limit},
                                ratio_note="sweep / peer"))
        return rows

    def _sweep_pss(self, config, out):
        self.clear(out)
        _, _, tree, children = run_sampling_pss(self.sweep_argv(config, out, []))
        return tree / 1024, children / 1024

    def _peer_pss(self, name, *args):
        argv = [PYTHON, os.path.join(HERE, "peers.py"), name] + [str(a) for a in args]
        _, _, tree, _ = run_sampling_pss(argv)
        return tree / 1024

    # --- 4. gather -------------------------------------------------------------------------------

    def gather(self):
        n, row_bytes = self.size["gather_points"], self.size["gather_row_bytes"]
        config = self.config("gather", f"""\
name: gather
kernel: {{name: fill, options: {{bytes: {row_bytes}}}}}
parameters:
  x: {{range: [0, {n}]}}
execution: {{workers: 2, chunk_size: auto}}
""")
        out, peer_out = self.output("gather"), os.path.join(self.work, "gather-h5py.h5")

        def peer():
            if os.path.exists(peer_out):
                os.remove(peer_out)
            return self.peer("gather_h5py", peer_out, n, row_bytes)["seconds"]

        self._require_kernel(config, "fill", "fill kernel missing")
        runs = alternate(self.reps, {"sweep": lambda: self.run_sweep(config, out), "peer": peer})
        rows_out = self.check_done(out, "row")
        if rows_out.shape != (n, row_bytes // 8) or not (
                rows_out == np.arange(n, dtype=np.float64)[:, None]).all():
            raise Failed("gather: /row is not x in every element")
        total = n * row_bytes / 1e6
        s, p = total / median(runs["sweep"]), total / median(runs["peer"])
        return [row("4", f"gather: `fill`, {row_bytes} B per point, {n:,} points, 2 workers",
                    (s, "MB/s", runs["sweep"]), (p, "MB/s", runs["peer"]),
                    "h5py `create_dataset(data=...)`, one call", s / p, (">=", 1.0))]

    def _require_kernel(self, config, what, reason):
        proc = subprocess.run([self.sweep, "validate", config], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        if proc.returncode == 2 and what in proc.stderr:
            raise NotRun(f"{reason} ({proc.stderr.strip()})")

    # --- 5. startup ------------------------------------------------------------------------------

    def startup(self):
        out = self.output("startup")
        configs = {}
        for start in ("spawn", "fork"):
            configs[start] = self.config(f"startup-{start}", f"""\
name: startup
kernel: {{name: square}}
parameters:
  x: {{range: [0, 2]}}
execution: {{workers: 2, start: {start}}}
""")
        code = ("import multiprocessing as mp\n"
                "def square(x):\n    return x * x\n"
                "if __name__ == '__main__':\n"
                "    with mp.Pool(2) as pool:\n"
                "        assert pool.map(square, range(2)) == [0, 1]\n")
        reps = self.reps if self.quick else max(self.reps, 10)
        runs = alternate(reps, {
            "spawn": lambda: self.run_sweep(configs["spawn"], out),
            "peer": lambda: self.timed([PYTHON, "-c", code])[0],
            "fork": lambda: self.run_sweep(configs["fork"], out),
        })
        if list(self.check_done(out, "y")) != [0.0, 1.0]:
            raise Failed("startup: /y is not [0, 1]")
        p = median(runs["peer"])
        peer = (p * 1e3, "ms", [t * 1e3 for t in runs["peer"]])
        label = "`python3 -c` with `Pool(2).map` of 2 items"
        rows = []
        for key, start, target in (("5", "spawn", (">=", 3)), ("5b", "fork", None)):
            s = median(runs[start])
            rows.append(row(key, f"startup: 2-point `square` sweep, whole process, "
                                 f"`start: {start}`{' (default)' if start == 'spawn' else ''}",
                            (s * 1e3, "ms", [t * 1e3 for t in runs[start]]), peer, label, p / s,
                            target, ratio_note="peer / sweep"))
        return rows

    # --- 6. scaling ------------------------------------------------------------------------------

    def scaling(self):
        points, steps = self.size["scaling_points"], self.size["scaling_steps"]
        config = self.config("scaling", f"""\
name: scaling
kernel: {{name: lorenz, options: {{steps: {steps}, dt: 0.001, transient: 0}}}}
parameters:
  rho: {{linspace: [0, 50, {points}]}}
  sigma: 10
  beta: 2.6666666666666665
execution: {{chunk_size: auto}}
""")
        out, out_one = self.output("scaling"), self.output("scaling-one")
        runs = alternate(self.reps, {
            "two": lambda: self.run_sweep(config, out, "-j", "2"),
            "one": lambda: self.run_sweep(config, out_one, "-j", "1"),
        })
        lyapunov = self.check_done(out, "lyapunov")
        if not np.isfinite(lyapunov).all():
            raise Failed("scaling: non-finite lyapunov exponents")
        if not np.array_equal(lyapunov, self.check_done(out_one, "lyapunov")):
            raise Failed("scaling: 2 workers and 1 give different lyapunov exponents")
        t2, t1 = median(runs["two"]), median(runs["one"])
        return [row("6", f"scaling: `lorenz`, {points} points x {steps:,} RK4 steps",
                    (t2, "s (2 workers)", runs["two"]), (t1, "s (1 worker)", runs["one"]),
                    "the same sweep with 1 worker", t1 / (2 * t2), (">=", 0.95),
                    ratio_note="T1 / (2 T2)")]

    # --- 7. external commands --------------------------------------------------------------------

    def command(self):
        n = self.size["command_runs"]
        program = os.path.join(self.bin, "yprint")
        config = self.config("command", f"""\
name: command
kernel:
  command: [{program}, "{{x}}"]
  outputs: {{y: float64}}
parameters:
  x: {{range: [0, {n}]}}
execution: {{workers: 2, chunk_size: auto}}
""")
        out = self.output("command")
        args = os.path.join(self.work, "command-args.txt")
        with open(args, "w") as f:
            f.write("".join(f"{i}\n" for i in range(n)))
        parallel_out = os.path.join(self.work, "command-parallel.txt")

        def peer():
            with open(parallel_out, "w") as sink:
                start = time.perf_counter()
                proc = subprocess.run(["parallel", "--will-cite", "-j2", "-a", args, program, "{}"],
                                      stdout=sink, stderr=subprocess.PIPE, text=True)
                seconds = time.perf_counter() - start
            if proc.returncode != 0:
                raise Failed(f"parallel exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
            return seconds

        self._require_kernel(config, "kernel.command", "command kernel missing")
        runs = alternate(self.reps, {"sweep": lambda: self.run_sweep(config, out), "peer": peer})
        if not np.array_equal(self.check_done(out, "y"), np.arange(n, dtype=np.float64)):
            raise Failed("command: /y is not x")
        with open(parallel_out) as f:
            if sorted(int(line.split()[1]) for line in f) != list(range(n)):
                raise Failed("command: parallel's output lacks some runs")
        s, p = n / median(runs["sweep"]), n / median(runs["peer"])
        return [row("7", f"external commands: {n:,} runs of a tiny C program, 2 at a time",
                    (s, "runs/s", runs["sweep"]), (p, "runs/s", runs["peer"]),
                    "GNU `parallel -j2`, output to a file", s / p, (">=", 1.0))]

    # --- 8. per-chunk overhead -------------------------------------------------------------------

    def chunk(self):
        n = self.size["chunk_points"]
        config = self.config("chunk", f"""\
name: chunk
kernel: {{name: square}}
parameters:
  x: {{range: [0, {n}]}}
execution: {{workers: 2}}
""")
        out = self.output("chunk")
        pingpong = os.path.join(self.bin, "pingpong")
        one_cpu = {min(os.sched_getaffinity(0))}
        runs = alternate(self.reps, {
            "sweep": lambda: self.run_sweep(config, out, "--chunk-size", "1") / n * 1e6,
            "peer": lambda: float(self.timed([pingpong, str(n)])[1]),
            # Both ends on one CPU: no cross-CPU wake-up (costly on a VM with idle vCPUs), so
            # the round trip is two context switches; the floor, for contrast.
            "pinned": lambda: float(self.timed(
                [pingpong, str(n)], preexec_fn=lambda: os.sched_setaffinity(0, one_cpu))[1]),
        })
        if not np.array_equal(self.check_done(out, "y"), np.arange(n, dtype=np.float64) ** 2):
            raise Failed("chunk: /y is not x*x")
        s = median(runs["sweep"])
        what = f"per-chunk overhead: `square`, {n:,} chunks of 1 point, 2 workers"
        return [row(key, what, (s, "us/chunk", runs["sweep"]),
                    (median(runs[side]), "us/round trip", runs[side]), label,
                    s / median(runs[side]), target)
                for key, side, label, target in (
                    ("8", "peer", "1-byte round trip over a pipe pair", ("<=", 2.0)),
                    ("8b", "pinned", "the same round trip, both ends on one CPU", None))]

    # --- 9. MPI ----------------------------------------------------------------------------------

    def mpi_sweep(self, ranks, config, out, *args):
        """Wall seconds of `mpirun -np RANKS sweep run --mpi -j 1`, the output removed first."""
        self.clear(out)
        argv = MPIRUN + ["-np", str(ranks)] + self.sweep_argv(config, out, ("--mpi", "-j", "1") + args)
        return self.timed(argv)[0]

    def mpi(self):
        if shutil.which("mpirun") is None:
            raise NotRun("mpirun is not installed (openmpi-bin)")
        help_text = subprocess.run([self.sweep, "run", "--help"], stdout=subprocess.PIPE,
                                   text=True).stdout
        if "--mpi" not in help_text:
            raise NotRun("this sweep was built without MPI")
        n, sleep_ms, chunks, auto_points = (
            self.size[k] for k in ("mpi_points", "mpi_sleep_ms", "mpi_chunks", "mpi_auto_points"))
        sleepy = self.config("mpi-sleepy", f"""\
name: mpi-sleepy
kernel: {{name: faulty, options: {{sleep_ms: {sleep_ms}}}}}
inputs:
  data: {{generate: zeros, shape: [4]}}
parameters:
  i: {{range: [0, {n}]}}
execution: {{chunk_size: 1}}
""")
        empty = self.config("mpi-empty", f"""\
name: mpi-empty
kernel: {{name: square}}
parameters:
  x: {{range: [0, {chunks}]}}
""")
        big = self.config("mpi-auto", f"""\
name: mpi-auto
kernel: {{name: square}}
parameters:
  x: {{range: [0, {auto_points}]}}
execution: {{chunk_size: auto}}
""")
        out, sleepy_out, big_out = self.output("mpi"), self.output("mpi-sleepy"), self.output("mpi-auto")
        runs = alternate(self.reps, {
            "one": lambda: self.mpi_sweep(1, sleepy, sleepy_out),
            "three": lambda: self.mpi_sweep(3, sleepy, sleepy_out),
            "mpi_chunks": lambda: chunks / self.mpi_sweep(3, empty, out, "--chunk-size", "1"),
            "local_chunks": lambda: chunks / self.run_sweep(empty, out, "-j", "3",
                                                            "--chunk-size", "1"),
            "mpi_auto": lambda: self.mpi_sweep(3, big, big_out),
            "local_auto": lambda: self.run_sweep(big, big_out, "-j", "3"),
        })
        if not np.array_equal(self.check_done(sleepy_out, "y"), np.arange(n, dtype=np.float64)):
            raise Failed("mpi: the sleepy sweep's /y is not i")
        if not np.array_equal(self.check_done(big_out, "y"),
                              np.arange(auto_points, dtype=np.float64) ** 2):
            raise Failed("mpi: the auto-chunked /y is not x*x")
        # Rank 0's own CPU per chunk end, from the stop record of MPI runs of the one-point
        # chunks (each rank's driver CPU seconds, io/journal.h), once for each repetition.
        cpu_us, remote = [], []
        for _ in range(max(self.reps, 1)):
            self.mpi_sweep(3, empty, out, "--chunk-size", "1")
            records = journal_records(out + ".journal")
            workers = [r.get("worker") for r in records if r["type"] == "done"]
            remote.append(sum(1 for w in workers if w and w > 0) / max(len(workers), 1))
            stop = [r for r in records if r["type"] == "stopped"][-1]
            cpu_us.append(stop["cpu_seconds"][0] / len(workers) * 1e6)
        if not np.array_equal(self.check_done(out, "y"),
                              np.arange(chunks, dtype=np.float64) ** 2):
            raise Failed("mpi: /y is not x*x")
        t1, t3 = median(runs["one"]), median(runs["three"])
        c_mpi, c_local = median(runs["mpi_chunks"]), median(runs["local_chunks"])
        a_mpi, a_local = median(runs["mpi_auto"]), median(runs["local_auto"])
        return [
            row("9a", f"MPI scaling: {n} points of {sleep_ms} ms, 3 ranks x 1 worker",
                (t3, "s (3 ranks)", runs["three"]), (t1, "s (1 rank)", runs["one"]),
                "the same sweep on 1 rank x 1 worker", t1 / (3 * t3), (">=", 0.8),
                ratio_note="T1 / (3 T3)"),
            row("9b", f"MPI dispatch: `square`, {chunks:,} chunks of 1 point, 3 ranks x 1 worker "
                      f"({median(remote):.0%} computed on ranks 1-2)",
                (c_mpi, "chunks/s", runs["mpi_chunks"]),
                (c_local, "chunks/s", runs["local_chunks"]), "one machine, -j 3, no MPI",
                c_mpi / c_local, (">=", 0.9), ratio_note="MPI / local"),
            row("9c", f"MPI, `square` {auto_points:,} points, `chunk_size: auto`, 3 ranks x 1 worker",
                (a_mpi, "s", runs["mpi_auto"]), (a_local, "s", runs["local_auto"]),
                "one machine, -j 3, no MPI", a_mpi / a_local, ("<=", 1.5),
                ratio_note="MPI / local time"),
            row("9d", "rank 0's own CPU per chunk end (9b's MPI runs, from the stop record)",
                (median(cpu_us), "us/chunk", cpu_us), (5.0, "us/chunk", [5.0]),
                "aim: 10^4 ranks x 20 ms chunks on one core", median(cpu_us) / 5.0,
                ("<=", 1.0)),
        ]

    # --- 11. journal -----------------------------------------------------------------------------

    def journal(self):
        rows = []
        for n in self.size["journal_chunks"]:
            rows += self._journal_rows(n, [f"11{k}" for k in "abcdefghij"[len(rows):]])
        return rows

    def _journal_rows(self, n, keys):
        """One `sweep run` of n one-point chunks, then what its journal costs: bytes per chunk,
        `sweep status` (seconds, peak RSS) and a resume with nothing left to do. The limits are
        the ones set for 10^6 chunks, the same below and scaled linearly above (O(chunks))."""
        config = self.config(f"journal{n}", f"""\
name: journal{n}
kernel: {{name: square}}
parameters:
  x: {{range: [0, {n}]}}
execution: {{workers: 2, chunk_size: 1}}
""")
        out = self.output(f"journal{n}")
        run_seconds = self.run_sweep(config, out)
        per_chunk = os.path.getsize(out + ".journal") / n
        status, resume = [], []
        for _ in range(self.reps):
            os.sync()
            status.append(run_rusage([self.sweep, "status", out, "--json"]))
            os.sync()
            resume.append(run_rusage([self.sweep, "resume", out, "-q"])[0])
        report = json.loads(status[-1][2])
        if report["done"] != n or report["journal_damaged_records"] != 0:
            raise Failed(f"journal: status says {report['done']} of {n} done, "
                         f"{report['journal_damaged_records']} damaged records")
        with h5py.File(out, "r") as f:
            y = "results/y" if "results" in f else "y"  # output format sweep/1, or sweep/2
        if not np.array_equal(self.check_done(out, y), np.arange(n, dtype=np.float64) ** 2):
            raise Failed("journal: /results/y is not x*x")
        self.clear(out)  # up to 1 GB at 10^7 chunks
        scale = max(n / 1e6, 1.0)
        what = f"journal: `square`, {n:,} chunks of 1 point, all done"
        seconds = [s[0] for s in status]
        rss = [s[1] for s in status]

        def limited(key, label, runs, unit, limit, limit_label):
            value = median(runs)
            return row(key, f"{what}: {label}", (value, unit, runs), (limit, unit, [limit]),
                       limit_label, value / limit, ("<=", 1.0), ratio_note="sweep / limit")

        return [
            limited(keys[0], "journal bytes per chunk", [per_chunk], "B", 64,
                    "limit: under 64 B (aim 60)"),
            limited(keys[1], "`sweep status`", seconds, "s", 1.0 * scale,
                    f"limit: {1.0 * scale:g} s"),
            limited(keys[2], "`sweep status` peak RSS", rss, "MiB", 200 * scale,
                    f"limit: {200 * scale:g} MiB"),
            limited(keys[3], "`sweep resume` with nothing to do", resume, "s", 5.0 * scale,
                    f"limit: {5.0 * scale:g} s"),
            row(keys[4], f"{what}: the `sweep run` that made it",
                (run_seconds / n * 1e6, "us/chunk", [run_seconds / n * 1e6]),
                (run_seconds, "s", [run_seconds]), "the whole run", 1.0, None),
        ]


    # --- 10. time to the first chunk, whatever the size of the sweep -----------------------------

    def first_chunk(self, side, out):
        """Seconds from launching `sweep run` on a side x side grid of `square` until its first
        chunk is recorded done in /chunks/status (polled every 2 ms by raw reads, as a live
        reader would), and the size of the file created; the run is then interrupted."""
        config = self.config(f"start-{side}", f"""\
name: start-{side}
kernel: {{name: square}}
parameters:
  x: {{linspace: [0, 1, {side}]}}
  k: {{range: [0, {side}]}}
""")
        self.clear(out)
        argv = self.sweep_argv(config, out, ("-j", "2", "--chunk-size", "100000"))
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        where = None
        try:
            while True:
                if proc.poll() is not None:
                    raise Failed(f"start: sweep exited {proc.returncode} before a chunk was done: "
                                 f"{proc.stderr.read().strip()[-400:]}")
                if where is None and os.path.exists(out):
                    try:
                        with h5py.File(out, "r") as f:
                            status = f["chunks/status"]
                            where = (status.id.get_offset(), status.shape[0])
                    except OSError:
                        pass  # being renamed into place
                if where is not None:
                    with open(out, "rb") as f:
                        if b"\x01" in os.pread(f.fileno(), where[1], where[0]):
                            break
                time.sleep(0.002)
            seconds = time.perf_counter() - start
        finally:
            proc.send_signal(2)  # SIGINT: the journaled way out
            proc.wait()
        size = os.path.getsize(out)
        self.clear(out)
        return seconds, size

    def start(self):
        sides = self.size["start_grids"]
        out = self.output("start")
        sizes = {}

        def measure(side):
            seconds, sizes[side] = self.first_chunk(side, out)
            return seconds

        runs = alternate(self.reps, {str(side): (lambda side=side: measure(side)) for side in sides})
        small, large = sides[0], sides[-1]
        t_small, t_large = median(runs[str(small)]), median(runs[str(large)])
        results = {side: side * side * 8 for side in sides}
        grid = sides[1] if len(sides) > 2 else large  # 10^4 x 10^4 in full mode
        rows = [row("10a", f"time to first chunk done: `square` on a {large:,}^2 grid "
                           f"({large * large:.2g} points), chunks of 10^5, 2 workers",
                    (t_large, "s", runs[str(large)]), (t_small, "s", runs[str(small)]),
                    f"the same on a {small:,}^2 grid ({small * small:.2g} points)",
                    t_large / t_small, ("<=", 2.0), ratio_note="large / small")]
        for side in sides[1:-1]:
            t = median(runs[str(side)])
            rows.append(row(f"10a{sides.index(side)}", f"time to first chunk done: {side:,}^2 grid "
                            f"({side * side:.2g} points)", (t, "s", runs[str(side)]),
                            (t_small, "s", runs[str(small)]), f"{small:,}^2 grid", t / t_small,
                            ("<=", 2.0), ratio_note="large / small"))
        rows.append(row("10b", f"file size of the {grid:,}^2 grid of `square` (float64 results)",
                        (sizes[grid] / 1e6, "MB", [sizes[grid]]),
                        (results[grid] / 1e6, "MB", [results[grid]]), "its results' bytes",
                        sizes[grid] / results[grid], ("<=", 1.03)))
        return rows

    # --- 12. a large config: parsed once, by the driver ------------------------------------------

    def bigconfig(self):
        """Seconds until both of 2 spawned workers are ready on a 10 MB config (a `values:` list
        of 500,000 numbers), by sweep's own clocks: for each worker, from the journal's started
        record (the output exists; the workers start next) to the start of its first chunk (its
        done record's time less the chunk's seconds); the later of the two. The sweep is two
        chunks dealt round-robin (`schedule: static`), so each worker computes one. The peer is
        the driver's own parse of the same file (`sweep validate`), which happens once either way:
        a worker that parsed the YAML again would take as long."""
        n = self.size["bigconfig_values"]
        xs = np.random.default_rng(1).uniform(-1, 1, n)
        config = self.config("bigconfig", "name: bigconfig\nkernel: {name: square}\n"
                             "parameters:\n  x: {values: [" + ", ".join(map(repr, xs.tolist())) +
                             "]}\nexecution: {workers: 2, start: spawn, schedule: static}\n")
        out = self.output("bigconfig")

        def ready():
            self.run_sweep(config, out, "--chunk-size", str((n + 1) // 2))
            records = journal_records(out + ".journal")
            started = next(r["time"] for r in records if r.get("type") == "started")
            first = {}
            for r in records:
                if r.get("type") == "done" and r["worker"] not in first:
                    first[r["worker"]] = r["time"] - r["seconds"] - started
            if sorted(first) != [0, 1]:
                raise Failed(f"bigconfig: chunks done by workers {sorted(first)}, not by 0 and 1")
            return max(first.values())

        runs = alternate(self.reps, {
            "ready": ready,
            "parse": lambda: self.timed([self.sweep, "validate", config])[0],
        })
        y = self.check_done(out, "y")
        with h5py.File(out, "r") as f:
            x = f["x"][...]
        if not (np.array_equal(x, xs) and np.array_equal(y, xs * xs)):
            raise Failed("bigconfig: /x is not the config's values or /y is not x^2")
        r, p = median(runs["ready"]), median(runs["parse"])
        mb = os.path.getsize(config) / 1e6
        return [row("12", f"workers ready: 2 spawned workers on a {mb:.1f} MB config "
                          f"({n:,} values), from the run's start to their first chunk",
                    (r, "s", runs["ready"]), (p, "s", runs["parse"]),
                    "the driver's own parse of it: `sweep validate`", r / p, ("<=", 0.25),
                    ratio_note="ready / parse")]

    # --- 13. growing a sweep: --reuse ------------------------------------------------------------

    def reuse(self):
        """13a: the quickstart grid refined from 101 x 3 to 201 x 5, run with --reuse of the
        coarse output against the same run from scratch: it should cost the new points' share of
        the scratch time (702 of 1005), within 10%. 13b: a 10^4 x 10^4 grid of `square` doubled
        along its outer axis: the 10^8 points of the old grid are copied by the workers; their
        copy rate (the copied bytes over the wall time the workers spent on the chunks they
        copied, by sweep's own per-chunk clocks, 2 workers) against the floor of writing as many
        bytes into a new file with 2 threads (`floor.c`). The grown output is checked against a
        from-scratch run (13a) and against x * x (13b)."""
        steps = self.size["grow_steps"]

        def lorenz(name, rho, sigma):
            return self.config(name, f"""\
name: {name}
seed: 1
kernel:
  name: lorenz
  options: {{steps: {steps}, dt: 0.001, transient: 1.0}}
parameters:
  rho:   {{linspace: [0, 50, {rho}]}}
  sigma: {{values: {sigma}}}
  beta:  2.6666666666666665
execution: {{workers: 2}}
""")

        coarse = lorenz("grow-coarse", 101, "[10, 14, 18]")
        fine = lorenz("grow-fine", 201, "[10, 12, 14, 16, 18]")
        coarse_out, fine_out, scratch_out = (self.output(n) for n in
                                             ("grow-coarse", "grow-fine", "grow-scratch"))
        self.run_sweep(coarse, coarse_out)  # untimed: the sweep that is grown
        runs = alternate(self.reps, {
            "reuse": lambda: self.run_sweep(fine, fine_out, "--reuse", coarse_out),
            "scratch": lambda: self.run_sweep(fine, scratch_out),
        })
        with h5py.File(fine_out, "r") as a, h5py.File(scratch_out, "r") as b:
            for name in ("lyapunov", "z_mean", "state", "rho", "sigma"):
                if a[name][...].tobytes() != b[name][...].tobytes():
                    raise Failed(f"reuse: /{name} of the grown output is not the scratch run's")
            reused = int(a["chunks/reused"][...].sum())
        if reused != 303:
            raise Failed(f"reuse: {reused} points reused, not 303")
        share = (201 * 5 - 303) / (201 * 5)
        t_reuse, t_scratch = median(runs["reuse"]), median(runs["scratch"])
        rows = [row("13a", f"grow: `lorenz` ({steps:,} steps) 101 x 3 to 201 x 5 with --reuse "
                           "(702 of 1005 points computed), 2 workers",
                    (t_reuse, "s", runs["reuse"]), (t_scratch, "s", runs["scratch"]),
                    "the 201 x 5 sweep from scratch", t_reuse / t_scratch,
                    ("<=", round(1.1 * share, 3)), ratio_note="reuse / scratch",
                    extra={"new_share": share})]

        side = self.size["copy_side"]

        def grid(name, outer):
            return self.config(name, f"""\
name: {name}
kernel: {{name: square}}
parameters:
  a: {{range: [0, {outer}]}}
  x: {{range: [0, {side}]}}
execution: {{workers: 2}}
""")

        small, large = grid("copy-old", side), grid("copy-new", 2 * side)
        small_out, large_out = self.output("copy-old"), self.output("copy-new")
        self.run_sweep(small, small_out)
        copied_bytes = side * side * 8
        floor_out = os.path.join(self.work, "copy-floor.bin")

        def copy():
            seconds = self.run_sweep(large, large_out, "--reuse", small_out)
            with h5py.File(large_out, "r") as f:
                reused = f["chunks/reused"][...]
                count = f["chunks/count"][...]
                busy = f["chunks/seconds"][...]
            whole = reused == count
            if reused.sum() != side * side or not whole.any():
                raise Failed(f"reuse: {reused.sum()} points copied, not {side * side}")
            # The chunks copied whole, by the workers' clocks, spread over the 2 workers.
            copy_seconds = busy[whole].sum() / 2 * (side * side) / reused[whole].sum()
            copy_runs.append(copy_seconds)
            return seconds

        def floor():
            if os.path.exists(floor_out):
                os.remove(floor_out)
            return self.timed([os.path.join(self.bin, "floor"), floor_out, str(copied_bytes),
                               "2"])[0]

        copy_runs = []
        runs = alternate(self.reps, {"copy": copy, "floor": floor})
        os.remove(floor_out)
        y = self.check_done(large_out, "y")
        if not np.array_equal(y, np.tile(np.arange(side, dtype=np.float64) ** 2, (2 * side, 1))):
            raise Failed("reuse: /y of the doubled grid is not x * x")
        t_copy, t_floor = median(copy_runs), median(runs["floor"])
        rows.append(row("13b", f"reuse copy: `square` {side:,} x {side:,} grid doubled along its "
                               f"outer axis, {side * side:.2g} points ({copied_bytes / 1e6:,.0f} "
                               "MB) copied by 2 workers",
                        (copied_bytes / t_copy / 1e6, "MB/s", [copied_bytes / t / 1e6
                                                              for t in copy_runs]),
                        (copied_bytes / t_floor / 1e6, "MB/s", [copied_bytes / t / 1e6
                                                               for t in runs["floor"]]),
                        f"floor: 2 threads write {copied_bytes / 1e6:,.0f} MB into a new file "
                        "(`floor.c`)", t_copy / t_floor, ("<=", 2), ratio_note="copy / floor",
                        extra={"whole_run_seconds": runs["copy"], "copy_seconds": copy_runs}))
        return rows

    # --- py4. a persistent Python program, against a process per point -------------------------

    def stream(self):
        """The same Python script (it imports numpy, as a real model does, and computes x*x) as a
        persistent program serving every point of its worker over stdin and stdout (stream/1),
        against running it once per point: through sweep's per-point command kernel, and through
        GNU parallel. Points per second, 2 workers or jobs. The peers compute fewer points than
        sweep's persistent run (stream_peer_points): a process per point costs the same per point
        at any count, and 10^4 interpreter starts would take minutes a repetition."""
        n, n_peer = self.size["stream_points"], self.size["stream_peer_points"]
        script = os.path.join(self.work, "stream_model.py")
        with open(script, "w") as f:
            f.write("import json, sys\nimport numpy as np\n\n\n"
                    "def model(x):\n    return float(np.float64(x) * x)\n\n\n"
                    "if len(sys.argv) > 1:  # once, for the point in its argument\n"
                    "    print(json.dumps({'y': model(int(sys.argv[1]))}))\n"
                    "else:  # stream/1: a hello, then a line per point each way\n"
                    "    hello = json.loads(sys.stdin.readline())\n"
                    "    for line in sys.stdin:\n"
                    "        p = json.loads(line)\n"
                    "        print(json.dumps({'point': p['point'], 'y': model(p['x'])}), "
                    "flush=True)\n")
        persistent = self.config("stream", f"""\
name: stream
kernel:
  command: [{PYTHON}, {script}]
  persistent: true
  outputs: {{y: float64}}
parameters:
  x: {{range: [0, {n}]}}
execution: {{workers: 2, chunk_size: auto}}
""")
        per_point = self.config("stream-per-point", f"""\
name: stream-per-point
kernel:
  command: [{PYTHON}, {script}, "{{x}}"]
  outputs: {{y: float64}}
parameters:
  x: {{range: [0, {n_peer}]}}
execution: {{workers: 2, chunk_size: auto}}
""")
        out, out_peer = self.output("stream"), self.output("stream-per-point")
        args = os.path.join(self.work, "stream-args.txt")
        with open(args, "w") as f:
            f.write("".join(f"{i}\n" for i in range(n_peer)))
        parallel_out = os.path.join(self.work, "stream-parallel.txt")

        def parallel():
            with open(parallel_out, "w") as sink:
                start = time.perf_counter()
                proc = subprocess.run(["parallel", "--will-cite", "-j2", "-a", args, PYTHON,
                                       script, "{}"], stdout=sink, stderr=subprocess.PIPE,
                                      text=True)
                seconds = time.perf_counter() - start
            if proc.returncode != 0:
                raise Failed(f"parallel exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
            return seconds

        self._require_kernel(persistent, "kernel.persistent", "persistent kernel missing")
        runs = alternate(min(self.reps, self.size["stream_reps"]), {
            "sweep": lambda: self.run_sweep(persistent, out),
            "command": lambda: self.run_sweep(per_point, out_peer),
            "parallel": parallel,
        })
        if not np.array_equal(self.check_done(out, "y"), np.arange(n, dtype=np.float64) ** 2):
            raise Failed("stream: /y is not x*x")
        if not np.array_equal(self.check_done(out_peer, "y"),
                              np.arange(n_peer, dtype=np.float64) ** 2):
            raise Failed("stream: the per-point command's /y is not x*x")
        with open(parallel_out) as f:
            if sorted(json.loads(line)["y"] for line in f) != [float(i * i) for i in range(n_peer)]:
                raise Failed("stream: parallel's output lacks some points")
        s = n / median(runs["sweep"])
        what = f"a Python stream server (imports numpy; x*x), {n:,} points, 2 workers"
        return [row(key, what, (s, "points/s", [n / t for t in runs["sweep"]]),
                    (n_peer / median(runs[side]), "points/s", [n_peer / t for t in runs[side]]),
                    label, s / (n_peer / median(runs[side])), (">=", 20))
                for key, side, label in (
                    ("py4", "command", f"the same script as a per-point command "
                                       f"({n_peer:,} points)"),
                    ("py4b", "parallel", f"GNU `parallel -j2`, the script per point "
                                         f"({n_peer:,} points)"))]

    # --- py5. replacing a crashed worker, for a kernel slow to load ------------------------------

    def replace(self):
        """How long a crashed worker's replacement takes to compute, for a kernel whose init takes
        load_ms (the `faulty` kernel's load_ms: a stand-in for a Python model that imports for a
        second): one worker, point 0 crashes it (SIGSEGV), the replacement computes point 1. By
        the kernel's own trace (trace_file: CLOCK_MONOTONIC as each point starts), from the start
        of the crashing point to the start of the replacement's: the driver's noticing the crash,
        starting a worker, its loading the kernel (or not) and taking the point."""
        load_ms = self.size["replace_load_ms"]
        trace = os.path.join(self.work, "replace-trace.txt")
        out = self.output("replace")
        configs = {start: self.config(f"replace-{start}", f"""\
name: replace
kernel:
  name: faulty
  options: {{load_ms: {load_ms}, segfault_at: 0, trace_file: {trace}}}
inputs:
  data: {{generate: zeros, shape: [4]}}
parameters:
  i: {{range: [0, 2]}}
execution: {{workers: 1, chunk_size: 1, start: {start}}}
""") for start in ("forkserver", "spawn", "fork")}

        def measure(start):
            if os.path.exists(trace):
                os.remove(trace)
            self.clear(out)
            proc = subprocess.run(self.sweep_argv(configs[start], out, []),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if proc.returncode != 3:  # the crashed chunk is recorded failed
                raise Failed(f"replace ({start}): sweep exited {proc.returncode}: "
                             f"{proc.stderr.strip()[-400:]}")
            points, inits = {}, []
            with open(trace) as f:
                for line in f:
                    pid, what, ns = line.split()
                    if what == "init":
                        inits.append(int(pid))
                    else:
                        points[int(what)] = (int(pid), int(ns))
            if sorted(points) != [0, 1] or points[0][0] == points[1][0]:
                raise Failed(f"replace ({start}): points not computed by a crash and a "
                             f"replacement: {points}")
            if (len(inits) == 1) != (start == "forkserver"):
                raise Failed(f"replace ({start}): init() ran in {len(inits)} processes")
            return (points[1][1] - points[0][1]) / 1e6

        self._require_kernel(configs["forkserver"], "execution.start", "forkserver missing")
        runs = alternate(self.reps, {start: (lambda s=start: measure(s)) for start in configs})
        with h5py.File(out, "r") as f:
            y = f["y"][...]
        # The crashed point is missing: the output's fill value (NaN in files before sweep/3).
        with h5py.File(out, "r") as f:
            fill = float(np.ravel(f["y"].attrs.get("_FillValue", np.nan))[0])
        missing = np.isnan(y[0]) if np.isnan(fill) else y[0] == fill
        if not (missing and y[1] == 1):
            raise Failed(f"replace: /y is {y}, not [missing, 1]")
        f_ms, s_ms = median(runs["forkserver"]), median(runs["spawn"])
        what = (f"worker replacement after a crash: a C kernel whose init takes {load_ms / 1e3:g} s "
                f"(`faulty`, load_ms), 1 worker, crash to the replacement's first point")
        return self._replace_python(load_ms) + [
            row("py5b", what + ", `start: forkserver`", (f_ms, "ms", runs["forkserver"]),
                (s_ms, "ms", runs["spawn"]), "`start: spawn`", s_ms / f_ms,
                "forkserver <= 20 ms", met=f_ms <= 20, ratio_note="spawn / forkserver"),
            row("py5c", what + ", `start: fork`", (median(runs["fork"]), "ms", runs["fork"]),
                (s_ms, "ms", runs["spawn"]), "`start: spawn`",
                s_ms / median(runs["fork"]), ratio_note="spawn / fork")]

    def _replace_python(self, load_ms):
        """py5 itself: a Python model whose import takes load_ms (it sleeps, as an import of a
        large package would wait), whose point 0 segfaults its worker; the replacement computes
        point 1. By the model's own trace (time.monotonic_ns as each point starts, with its pid),
        from the crashing point's start to the replacement's first point, forkserver against
        spawn."""
        trace = os.path.join(self.work, "replace-py-trace.txt")
        model = self._python_model("replace_model", f"""\
import os, signal, time
time.sleep({load_ms / 1e3!r})  # a module slow to import
TRACE = {trace!r}


def compute(i):
    with open(TRACE, "a") as f:
        f.write(f"{{os.getpid()}} {{i}} {{time.monotonic_ns()}}\\n")
    if i == 0:
        os.kill(os.getpid(), signal.SIGSEGV)
    return float(i)
""")
        out = self.output("replace-py")
        configs = {start: self.config(f"replace-py-{start}", f"""\
name: replace-py
kernel:
  python: {model}:compute
  outputs: {{y: float64}}
parameters:
  i: {{range: [0, 2]}}
execution: {{workers: 1, chunk_size: 1, start: {start}}}
""") for start in ("forkserver", "spawn")}
        self._require_python(configs["spawn"])

        def measure(start):
            if os.path.exists(trace):
                os.remove(trace)
            self.clear(out)
            proc = subprocess.run(self.sweep_argv(configs[start], out, []),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if proc.returncode != 3:
                raise Failed(f"replace-py ({start}): sweep exited {proc.returncode}: "
                             f"{proc.stderr.strip()[-400:]}")
            points = {}
            with open(trace) as f:
                for line in f:
                    pid, i, ns = line.split()
                    points[int(i)] = (int(pid), int(ns))
            if sorted(points) != [0, 1] or points[0][0] == points[1][0]:
                raise Failed(f"replace-py ({start}): not a crash and a replacement: {points}")
            return (points[1][1] - points[0][1]) / 1e6

        runs = alternate(self.reps, {start: (lambda s=start: measure(s)) for start in configs})
        f_ms, s_ms = median(runs["forkserver"]), median(runs["spawn"])
        return [row("py5", f"worker replacement after a crash: a Python model that takes "
                    f"{load_ms / 1e3:g} s to import, 1 worker, crash to the replacement's first "
                    f"point, `start: forkserver`", (f_ms, "ms", runs["forkserver"]),
                    (s_ms, "ms", runs["spawn"]), "`start: spawn`", s_ms / f_ms,
                    "forkserver <= 20 ms", met=f_ms <= 20, ratio_note="spawn / forkserver")]


    # --- py. Python kernels --------------------------------------------------------------------
    # The function a Pool or joblib user writes, called by sweep in an interpreter embedded in
    # each worker (`kernel: {python: ...}`), against that Pool or joblib in the same run.

    def _python_model(self, name, source):
        path = os.path.join(self.work, name + ".py")
        with open(path, "w") as f:
            f.write(source)
        return path

    def _require_python(self, config):
        proc = subprocess.run([self.sweep, "validate", config], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        if proc.returncode == 2 and "built without Python" in proc.stderr:
            raise NotRun("this sweep was built without Python (python3-dev, pybind11-dev)")
        if proc.returncode != 0:
            raise Failed(f"sweep validate {os.path.basename(config)}: {proc.stderr.strip()[-400:]}")

    def _best_pool_chunksize(self, n, chunksizes):
        # 0: Pool's default chunksize (None in `dispatch_chunksizes`).
        calibration = {c or 0: self.peer("dispatch", n, 2, c or 0)["seconds"] for c in chunksizes}
        return min(calibration, key=calibration.get), calibration

    def py1(self):
        n = self.size["py1_points"]
        self._python_model("py1", "def square(x):\n    return x * x\n")
        config = self.config("py1", f"""\
name: py1
kernel: {{python: py1.py:square, outputs: {{y: float64}}}}
parameters:
  x: {{range: [0, {n}]}}
execution: {{workers: 2}}
""")
        self._require_python(config)
        out = self.output("py1")
        best, calibration = self._best_pool_chunksize(n, self.size["dispatch_chunksizes"])
        runs = alternate(self.reps, {
            "sweep": lambda: self.run_sweep(config, out),
            "pool": lambda: self.peer("dispatch", n, 2, best)["seconds"],
            "joblib": lambda: self.peer("dispatch_joblib", n, 2)["seconds"],
        })
        if not np.array_equal(self.check_done(out, "y"), np.arange(n, dtype=np.float64) ** 2):
            raise Failed("py1: /y is not x*x")
        s = n / median(runs["sweep"])
        what = f"Python `x*x` per point, {n:,} points, 2 workers, gathered into the file"
        sweep = (s / 1e6, "M points/s", [n / t / 1e6 for t in runs["sweep"]])
        return [row("py1", what, sweep,
                    (n / median(runs["pool"]) / 1e6, "M points/s",
                     [n / t / 1e6 for t in runs["pool"]]),
                    f"`Pool(2).map`, best chunksize ({best or 'default'})",
                    s / (n / median(runs["pool"])), (">=", 1),
                    extra={"pool_calibration_seconds": calibration}),
                row("py1b", what, sweep,
                    (n / median(runs["joblib"]) / 1e6, "M points/s",
                     [n / t / 1e6 for t in runs["joblib"]]),
                    "joblib `Parallel(n_jobs=2)`, auto batching",
                    s / (n / median(runs["joblib"])), None)]

    def py2(self):
        """The function of py1 with `batch: true`, against Pool at its best chunksize. The issue's
        workload is 10^7 points with fixed costs such as numpy's import amortised; here they are
        not (each worker starts Python and imports numpy, about 0.12 s of a 0.2 s run, where
        Pool's workers fork from a parent that has imported it already). So py2 is the marginal
        rate of both sides, (n - n/100) points over T(n) - T(n/100), both sizes timed in the same
        alternation; py2b is the whole run at n, the rate a user sees for this size."""
        n = self.size["py2_points"]
        small = n // 100
        self._python_model("py2", "def square(x, out):\n    out['y'][:] = x * x\n")

        def config(name, points):
            return self.config(name, f"""\
name: {name}
kernel: {{python: py2.py:square, batch: true, outputs: {{y: float64}}}}
parameters:
  x: {{range: [0, {points}]}}
execution: {{workers: 2}}
""")

        large_config, small_config = config("py2", n), config("py2-small", small)
        self._require_python(large_config)
        out, small_out = self.output("py2"), self.output("py2-small")
        best, calibration = self._best_pool_chunksize(n, self.size["py2_chunksizes"])
        runs = alternate(self.reps, {
            "sweep": lambda: self.run_sweep(large_config, out),
            "sweep_small": lambda: self.run_sweep(small_config, small_out),
            "pool": lambda: self.peer("dispatch", n, 2, best)["seconds"],
            "pool_small": lambda: self.peer("dispatch", small, 2, best)["seconds"],
        })
        if not np.array_equal(self.check_done(out, "y"), np.arange(n, dtype=np.float64) ** 2):
            raise Failed("py2: /y is not x*x")

        def marginal(key):
            # Medians first: a difference of single runs can be noise, or even negative.
            extra_seconds = median(runs[key]) - median(runs[key + "_small"])
            # Not measurable (NaN, the target not met) when the larger run took no longer: too
            # few points, as with --quick.
            return (n - small) / extra_seconds if extra_seconds > 0 else float("nan")

        s, p = marginal("sweep"), marginal("pool")
        whole_s, whole_p = n / median(runs["sweep"]), n / median(runs["pool"])
        extra = {"pool_calibration_seconds": calibration, "small_points": small,
                 "seconds": {k: v for k, v in runs.items()}}
        return [row("py2", f"Python `x*x`, `batch: true`, 2 workers, gathered: marginal rate from "
                           f"{small:,} to {n:,} points",
                    (s / 1e6, "M points/s", []),  # from medians: every run is in extra
                    (p / 1e6, "M points/s", []),
                    f"`Pool(2).map`, best chunksize ({best}), marginal rate", s / p, (">=", 20),
                    extra=extra),
                row("py2b", f"the same, whole run of {n:,} points (each worker's Python start and "
                            "numpy import included)",
                    (whole_s / 1e6, "M points/s", [n / t / 1e6 for t in runs["sweep"]]),
                    (whole_p / 1e6, "M points/s", [n / t / 1e6 for t in runs["pool"]]),
                    f"`Pool(2).map`, best chunksize ({best}), whole map", whole_s / whole_p)]

    def py3(self):
        nbytes, points = self.size["py3_bytes"], self.size["py3_points"]
        hold = self.size["py3_hold"]
        data = self.npy("shared", nbytes)
        small = self.npy("py3-small", 1 * MiB)
        self._python_model("py3", """\
import time


def scaled_sum(scale, inputs, hold=0.0):
    total = float(inputs["data"].sum()) * scale
    time.sleep(hold)
    return total
""")

        def config(name, path, scales, hold_s, chunk):
            return self.config(name, f"""\
name: {name}
kernel: {{python: py3.py:scaled_sum, options: {{hold: {hold_s}}}, outputs: {{sum: float64}}}}
inputs:
  data: {{npy: {path}}}
parameters:
  scale: {scales}
execution: {{workers: 2, chunk_size: {chunk}}}
""")

        timed = config("py3", data, f"{{linspace: [1, 2, {points}]}}", 0, 1)
        self._require_python(timed)
        out = self.output("py3")
        peers = {}
        runs = alternate(self.reps, {
            "sweep": lambda: self.run_sweep(timed, out),
            "joblib": lambda: self._keep(peers, "joblib",
                                         self.peer("shared_joblib", data, points, 2)),
            "pickle": lambda: self._keep(peers, "pickle",
                                         self.peer("shared_pickle", data, points, 2)),
        })
        sums = self.check_done(out, "sum")
        expected = np.asarray(peers["joblib"]["sums"])
        if not np.allclose(sums, expected, rtol=1e-9):
            raise Failed("py3: /sum differs from the peers' numpy sums")
        # Memory: both workers hold the whole input at once (one point each, then they sleep); the
        # same sweep over a 1 MiB input is the interpreters', numpy's and the driver's own share.
        held = config("py3-held", data, "{range: [1, 3]}", hold, 1)
        baseline = config("py3-baseline", small, "{range: [1, 3]}", hold, 1)
        out_held, out_base = self.output("py3-held"), self.output("py3-baseline")
        pss = alternate(self.reps, {"held": lambda: self._sweep_pss(held, out_held)[0],
                                    "baseline": lambda: self._sweep_pss(baseline, out_base)[0]})
        s = median(runs["sweep"])
        what = f"Python numpy sum of a {nbytes // MiB} MiB shared input, {points} points, 2 workers"
        sweep = (s, "s", runs["sweep"])
        rows = [row("py3", what, sweep, (median(runs["joblib"]), "s", runs["joblib"]),
                    "joblib `Parallel(n_jobs=2)`, auto memmap", median(runs["joblib"]) / s,
                    (">=", 5), ratio_note="peer / sweep"),
                row("py3b", what, sweep, (median(runs["pickle"]), "s", runs["pickle"]),
                    "`Pool(2)`, array pickled into each task", median(runs["pickle"]) / s, None,
                    ratio_note="peer / sweep")]
        one_copy = nbytes / MiB + median(pss["baseline"]) - 1
        h = median(pss["held"])
        rows.append(row("py3c", f"memory: peak summed PSS of sweep's processes, 2 Python workers "
                                f"holding the {nbytes // MiB} MiB input",
                        (h, "MiB", pss["held"]), (one_copy, "MiB", pss["baseline"]),
                        "one copy of the input plus the same sweep's processes over a 1 MiB input "
                        "(interpreters, numpy, driver)", h / one_copy, ("<=", 1.05),
                        ratio_note="sweep / one copy"))
        return rows


def row(key, workload, sweep, peer, peer_label, ratio, target=None, met=None, extra=None,
        ratio_note=""):
    """One line of the table. target: (">=" or "<=", number) judged on the ratio, or a text whose
    verdict the caller passes as met; None for a contrast row that has no target."""
    if isinstance(target, tuple):
        op, value = target
        met = ratio >= value if op == ">=" else ratio <= value
        target = f"{op} {value:g}x"
    return {
        "id": key,
        "workload": workload,
        "sweep": {"value": sweep[0], "unit": sweep[1], "runs": sweep[2]},
        "peer": {"what": peer_label, "value": peer[0], "unit": peer[1], "runs": peer[2]},
        "ratio": ratio,
        "ratio_note": ratio_note,
        "target": target or "",
        "met": met,
        **({"extra": extra} if extra else {}),
    }


def figure(value, unit):
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} {unit}"


def table(rows):
    lines = ["| # | workload | sweep | peer | ratio | target | met | others' CPU |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        load = f"{r['others_cpu']:.0%}" if "others_cpu" in r else ""
        if "status" in r:
            lines.append(f"| {r['id']} | {r['workload']} | {r['status']} | | | | | {load} |")
            continue
        met = {True: "yes", False: "**no**", None: "-"}[r["met"]]
        note = f" ({r['ratio_note']})" if r["ratio_note"] else ""
        lines.append(
            f"| {r['id']} | {r['workload']} | {figure(r['sweep']['value'], r['sweep']['unit'])} | "
            f"{figure(r['peer']['value'], r['peer']['unit'])}: {r['peer']['what']} | "
            f"{r['ratio']:.3g}x{note} | {r['target'] or 'contrast'} | {met} | {load} |")
    return "\n".join(lines)


def machine():
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                     "?")
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_MiB": mem,
            "kernel": platform.release(), "python": platform.python_version(),
            "numpy": np.__version__, "h5py": h5py.__version__}


def _row_id(name):
    return name if name.startswith("py") else str(WORKLOADS.index(name) + 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", required=True, help="the sweep binary (a Release build)")
    parser.add_argument("--work", required=True, help="scratch folder for inputs and outputs")
    parser.add_argument("--json", required=True, help="where to write the rows as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="every workload small; fail if one does not run, errs or gives "
                             "wrong results")
    parser.add_argument("--reps", type=int, default=0, help="runs per figure (default 5)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {WORKLOADS}")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else WORKLOADS
    for name in chosen:
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name}; choose from {','.join(WORKLOADS)}")

    bench = Bench(args.sweep, args.work, args.quick, args.reps)
    rows, failures = [], []
    started = time.time()
    for name in chosen:
        load = MachineLoad()
        t0 = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            new = getattr(bench, name)()
        except NotRun as e:
            # --quick is what CI runs, on a machine scripts/setup made: everything must run.
            if args.quick:
                failures.append(f"{name}: not run: {e}")
            new = [{"id": _row_id(name), "workload": name, "status": f"not run: {e}"}]
        except Exception as e:  # noqa: BLE001 - one broken workload must not hide the others
            if not isinstance(e, Failed):
                e = Failed(f"{type(e).__name__}: {e}")
            failures.append(f"{name}: {e}")
            new = [{"id": _row_id(name), "workload": name, "status": f"FAILED: {e}"}]
        share = load.others_share()
        for r in new:
            r["others_cpu"] = round(share, 3)
            r["seconds"] = round(time.perf_counter() - t0, 1)
        print(f"bench: {name} took {time.perf_counter() - t0:.1f}s; other processes used "
              f"{share:.0%} of the CPUs meanwhile", file=sys.stderr, flush=True)
        rows.extend(new)

    text = table(rows)
    print(text)
    result = {
        "command": " ".join(["scripts/bench/run"] + sys.argv[1:]),
        "quick": args.quick,
        "reps": bench.reps,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": machine(),
        "rows": rows,
        "table": text,
        "failures": failures,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        # A row may hold numpy scalars (a ratio or a check computed with numpy): their values.
        json.dump(result, f, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    if failures:
        print("bench: failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
