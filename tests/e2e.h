// End-to-end test helpers: run the real `sweep` binary, read its HDF5 output back, and find any
// process it left behind.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/journal.h"
#include "tests/fakes.h"
#include "tests/wait.h"

extern char** environ;

namespace sweep::testing {

inline std::string SourcePath(const std::string& relative) {
  return std::string(SWEEP_SOURCE_DIR) + "/" + relative;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// A seeded ising2d sweep of 3000 points (1500 temperatures, 2 replicates) in 128 chunks on 2
// workers: equality with another run of it is meaningful. For tests of finished runs; a test that
// needs a run to be live uses HeldConfig.
inline std::string SeededIsingConfig(const TempDir& dir) {
  const std::string path = dir / "ising.yaml";
  WriteFile(
      path,
      "name: ising\nseed: 9\nkernel: {name: ising2d, options: {L: 16, sweeps: 300, burn_in: 50}}\n"
      "parameters:\n  T: {linspace: [1.5, 3.5, 1500]}\nrepeat: 2\n"
      "execution: {workers: 2}\noutput: {path: out.h5}\n");
  return path;
}

// What a float64 output holds at a point not computed, pending or failed (io/output_file.h, format
// sweep/3): its _FillValue, netCDF's default fill, which xarray reads as NaN.
inline constexpr double kMissingFloat64 = 9.9692099683868690e+36;

// The Python with Debian's h5py, numpy, pandas and xarray (scripts/setup installs them): the
// `python3` first on PATH may be another.
inline constexpr const char* kPython = "/usr/bin/python3";

// Runs `command` with /bin/sh; its exit code, or -1 if it did not exit.
inline int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline void SleepSeconds(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

// A gate that keeps a run live for as long as the test needs, whatever the machine's speed: the
// `faulty` kernel given Options(n) holds every point with i >= n until Open() (see
// kernels/builtin/faulty.cc). Held() says which processes wait, at which points.
class Gate {
 public:
  explicit Gate(const std::string& dir) : file_(dir + "/gate-open") {}
  // The `faulty` options that hold points from `hold_from` on at this gate.
  std::string Options(int64_t hold_from) const {
    return "hold_from: " + std::to_string(hold_from) + ", release_file: " + file_;
  }
  // (pid, point) of each point that has started to wait, in order.
  std::vector<std::pair<pid_t, int64_t>> Held() const {
    std::vector<std::pair<pid_t, int64_t>> held;
    std::ifstream in(file_ + ".held");
    long long pid = 0, point = 0;
    while (in >> pid >> point) held.emplace_back(pid_t(pid), point);
    return held;
  }
  // Waits until `n` points are held; false after kPatienceSeconds.
  bool WaitHeld(size_t n) const {
    return WaitUntil([&] { return Held().size() >= n; });
  }
  void Open() const { std::ofstream(file_).put('\n'); }
  // Lets process `pid` go on, at this point and every later one, while the others wait.
  void Release(pid_t pid) const { std::ofstream(file_ + "." + std::to_string(pid)).put('\n'); }
  const std::string& file() const { return file_; }
  // Closes the gate again and forgets what was held: for a second run of the same config.
  void Close() const {
    for (const auto& [pid, point] : Held())
      std::filesystem::remove(file_ + "." + std::to_string(pid));
    std::filesystem::remove(file_);
    std::filesystem::remove(file_ + ".held");
  }

 private:
  std::string file_;
};

// A float64 npy file (version 1.0) holding `values`, as numpy.save writes it.
inline std::string Npy(const std::vector<double>& values) {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" +
                       std::to_string(values.size()) + ",), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += char(header.size() & 0xff);
  bytes += char(header.size() >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
  return bytes;
}

// The records of `type` (every record for "") in a journal; none while it does not exist yet.
inline std::vector<JournalRecord> JournalRecords(const std::string& journal,
                                                 const std::string& type) {
  std::vector<JournalRecord> out;
  if (!std::filesystem::exists(journal)) return out;
  for (JournalRecord& r : Journal::Read(journal).records)
    if (type.empty() || r.type == type) out.push_back(std::move(r));
  return out;
}

// Waits until `journal` holds at least `n` records of `type`; false after kPatienceSeconds.
inline bool WaitForRecords(const std::string& journal, const std::string& type, size_t n) {
  return WaitUntil([&] { return JournalRecords(journal, type).size() >= n; });
}

// Waits until, in the live `output` (dir/out.h5 by default), the points of chunks not done read
// as missing in `variable`, but those of at most `in_flight` chunks (whose rows are written before
// they are reported). A pending row reads as the zeros of a hole until the driver's filler has
// made it missing, in the background, within seconds of the start (driver/output_filler.h): a test
// that reads or kills a live run waits for that, not for an amount of time. Missing is the raw
// _FillValue h5py reads (netCDF's default fill in format sweep/3, NaN in sweep/2). False after
// kPatienceSeconds.
inline bool WaitForPendingMissing(const TempDir& dir, int in_flight,
                                  const std::string& variable = "y",
                                  const std::string& output = "out.h5") {
  const std::string script = dir / "pending_missing.py";
  WriteFile(script,
            "import sys, h5py, numpy as np\n"
            "f = h5py.File(sys.argv[1], 'r')\n"
            "v = f[sys.argv[2]]\n"
            "e = v[...].reshape(-1)\n"
            "fill = v.attrs['_FillValue']\n"
            "missing = (e == fill) | (e != e)  # e != e: NaN, sweep/2's fill\n"
            "status, first, count = (f['chunks/' + k][...] for k in ('status', 'first', 'count'))\n"
            "done = np.zeros(e.size, bool)\n"
            "for c in np.flatnonzero(status == 1): done[first[c]:first[c] + count[c]] = True\n"
            "with_values = int((~missing[~done]).sum())\n"
            "sys.exit(0 if with_values <= int(sys.argv[3]) * int(count.max()) else 1)\n");
  const std::string command = std::string(kPython) + " " + script + " " + dir / output + " " +
                              variable + " " + std::to_string(in_flight) + " 2>/dev/null";
  return WaitUntil([&] { return Shell(command) == 0; });
}

// The sweep that tests stop, read or kill in the middle: `faulty` over i in [0, points) in chunks
// of `chunk_size` on 2 workers, each y = i + the point's seed as a fraction (so the bytes show that
// every point got its own seed). Points with i >= hold_from (-1: none) wait at `gate`: the run is
// live until the test opens it, on any machine. `options` adds kernel options (`sleep_ms: 5` to
// pace a run a test wants to see in motion, never to make it last), `yaml` top-level keys
// (`repeat: 2`).
inline std::string HeldConfig(const TempDir& dir, const Gate& gate, int points, int chunk_size,
                              int hold_from, const std::string& options = "",
                              const std::string& yaml = "") {
  const std::string path = dir / "held.yaml";
  WriteFile(path, "name: held\nseed: 5\nkernel: {name: faulty, options: {seeded: 1, " +
                      gate.Options(hold_from) + (options.empty() ? "" : ", " + options) +
                      "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\nparameters:\n"
                      "  i: {range: [0, " +
                      std::to_string(points) + "]}\n" + yaml +
                      "execution: {workers: 2, chunk_size: " + std::to_string(chunk_size) +
                      "}\noutput: {path: out.h5}\n");
  return path;
}

// A `sweep` process started in the background. Every process it starts carries
// SWEEP_TEST_TAG=<tag> in its environment, so leftovers can be found after it is gone.
class SweepProcess {
 public:
  // `launcher`, if given, starts sweep: {"mpirun", "-np", "3"} runs `mpirun -np 3 sweep ARGS`.
  SweepProcess(const std::vector<std::string>& args, const std::string& dir,
               const std::vector<std::string>& launcher = {})
      : dir_(dir) {
    // pid and count alone are not unique: with a pid_max of 32768 a test process can get the pid
    // of an earlier one, whose processes (a daemon a faulty kernel forked, say) are still there.
    static int counter = 0;
    static const std::string nonce = [] {
      std::random_device device;
      std::ostringstream hex;
      hex << std::hex << device() << device();
      return hex.str();
    }();
    tag_ = std::to_string(getpid()) + "-" + nonce + "-" + std::to_string(++counter);
    out_path_ = dir + "/stdout-" + tag_;
    err_path_ = dir + "/stderr-" + tag_;
    std::vector<std::string> argv = launcher;
    argv.push_back(SWEEP_BINARY);
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.push_back(*e);
    env.push_back("SWEEP_TEST_TAG=" + tag_);
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own process group: a test's SIGINT must reach only it.
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    if (posix_spawn(&pid_, cargv[0], &actions, &attr, cargv.data(), cenv.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  ~SweepProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }
  pid_t pid() const { return pid_; }
  const std::string& tag() const { return tag_; }
  void Signal(int sig) { kill(pid_, sig); }
  // Waits for exit; returns the exit code, or 128 + signal. A run still going after
  // `limit_seconds` is a hang: the test fails with what each of its processes was doing (see
  // HangReport), they are killed, and Wait returns 128 + SIGKILL, so a hang costs minutes, not
  // the whole ctest timeout, and says where it was.
  int Wait(double limit_seconds = 300) {
    if (reaped_) return code_;
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_seconds);
    int status = 0;
    for (;;) {
      const pid_t got = waitpid(pid_, &status, WNOHANG);
      if (got == pid_ || (got < 0 && errno != EINTR)) break;
      if (std::chrono::steady_clock::now() > until) {
        ADD_FAILURE() << "sweep still running after " << limit_seconds << " s: " << HangReport();
        for (pid_t p : Processes()) kill(p, SIGKILL);
        kill(-pid_, SIGKILL);
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    reaped_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return code_;
  }
  // Every process (not a zombie) that carries this run's tag: the driver and what it started.
  std::vector<pid_t> Processes() const;
  // For each of them: its command line and, for each thread, its state, kernel wait channel and
  // stack, then (where gdb is installed, as CI installs it) every thread's backtrace.
  std::string HangReport() const;
  std::string out() const { return ReadFile(out_path_); }
  std::string err() const { return ReadFile(err_path_); }

 private:
  std::string dir_, tag_, out_path_, err_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int code_ = -1;
};

struct RunResult {
  int code = -1;
  std::string out, err, tag;
};

inline RunResult RunSweep(const std::vector<std::string>& args, const std::string& dir,
                          const std::vector<std::string>& launcher = {}) {
  SweepProcess p(args, dir, launcher);
  RunResult r;
  r.code = p.Wait();
  r.out = p.out();
  r.err = p.err();
  r.tag = p.tag();
  return r;
}

// The MPI launcher as the tests run it: Open MPI's mpirun with `ranks` ranks (oversubscribed, as
// 3 ranks on a 2-core machine, and as root), or SWEEP_TEST_MPIEXEC (scripts/test-mpich: MPICH's
// mpiexec, for a build against MPICH).
inline std::vector<std::string> Mpirun(int ranks) {
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  // Under AddressSanitizer (scripts/test-sanitizers): Open MPI leaves allocations of its
  // plugins at MPI_Finalize, after unloading them, so LeakSanitizer reports frames it cannot name
  // and no suppression can match. Leak checks stay on everywhere else; every other check stays on
  // here.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string options = asan ? std::string(asan) : "";
  if (options.find("detect_leaks=0") == std::string::npos)
    setenv("ASAN_OPTIONS", (options + (options.empty() ? "" : ":") + "detect_leaks=0").c_str(), 1);
  if (const char* mpiexec = std::getenv("SWEEP_TEST_MPIEXEC"))
    return {mpiexec, "-n", std::to_string(ranks)};
  return {"/usr/bin/mpirun", "--oversubscribe", "-np", std::to_string(ranks)};
}

// `sweep status OUTPUT --json` in `dir`, parsed.
inline nlohmann::json StatusJson(const TempDir& dir, const std::string& output = "out.h5") {
  const RunResult r = RunSweep({"status", output, "--json"}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

// Processes (other than zombies) whose environment carries SWEEP_TEST_TAG=<tag>.
inline std::vector<pid_t> TaggedProcesses(const std::string& tag) {
  std::vector<pid_t> found;
  const std::string needle = "SWEEP_TEST_TAG=" + tag;
  DIR* proc = opendir("/proc");
  if (!proc) return found;
  while (dirent* entry = readdir(proc)) {
    const pid_t pid = pid_t(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    const std::string base = std::string("/proc/") + entry->d_name;
    std::string env = ReadFile(base + "/environ");
    std::replace(env.begin(), env.end(), '\0', '\n');
    if (env.find(needle + "\n") == std::string::npos) continue;
    const std::string stat = ReadFile(base + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') continue;
    found.push_back(pid);
  }
  closedir(proc);
  return found;
}

inline std::vector<pid_t> SweepProcess::Processes() const { return TaggedProcesses(tag_); }

inline std::string SweepProcess::HangReport() const {
  std::ostringstream report;
  for (pid_t pid : Processes()) {
    const std::string base = "/proc/" + std::to_string(pid);
    std::string cmdline = ReadFile(base + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    report << "\n== pid " << pid << ": " << cmdline;
    if (DIR* tasks = opendir((base + "/task").c_str())) {
      while (dirent* entry = readdir(tasks)) {
        if (entry->d_name[0] == '.') continue;
        const std::string task = base + "/task/" + entry->d_name;
        const std::string stat = ReadFile(task + "/stat");
        const size_t paren = stat.rfind(')');
        report << "\n-- thread " << entry->d_name << " state "
               << (paren + 2 < stat.size() ? stat[paren + 2] : '?') << " wchan "
               << ReadFile(task + "/wchan") << "\n"
               << ReadFile(task + "/stack");
      }
      closedir(tasks);
    }
    const std::string gdb =
        "timeout 60 gdb -batch -nx -p " + std::to_string(pid) + " -ex 'thread apply all bt' 2>&1";
    if (access("/usr/bin/gdb", X_OK) == 0) {
      if (FILE* pipe = popen(gdb.c_str(), "r")) {
        char buffer[4096];
        size_t n;
        while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0)
          report.write(buffer, std::streamsize(n));
        pclose(pipe);
      }
    }
  }
  return report.str();
}

// Waits up to `seconds` for every tagged process to be gone; returns those still there. Processes
// that die with their driver take their time to go on a loaded machine: the wait is long, and
// costs nothing when they are gone.
inline std::vector<pid_t> LeftoversAfter(const std::string& tag, double seconds = 30.0) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<pid_t> left;
  do {
    left = TaggedProcesses(tag);
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < until);
  return left;
}

// The raw bytes of a dataset, in its file type converted to native; for variable-length strings,
// the strings each followed by a NUL (their in-memory pointers would differ between reads).
inline std::vector<unsigned char> DatasetBytes(const std::string& file, const std::string& name) {
  std::vector<unsigned char> bytes;
  H5E_auto2_t func;
  void* data;
  H5Eget_auto2(H5E_DEFAULT, &func, &data);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0) {
    const hid_t d = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
    if (d >= 0) {
      const hid_t type = H5Dget_type(d);
      const hid_t native = H5Tget_native_type(type, H5T_DIR_ASCEND);
      const hid_t space = H5Dget_space(d);
      const hssize_t n = H5Sget_simple_extent_npoints(space);
      if (H5Tis_variable_str(type) > 0) {
        std::vector<char*> texts(size_t(n), nullptr);
        if (H5Dread(d, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, texts.data()) >= 0) {
          for (char* t : texts) {
            bytes.insert(bytes.end(), t, t + std::strlen(t) + 1);
            H5free_memory(t);
          }
        }
      } else {
        bytes.resize(size_t(n) * H5Tget_size(native));
        if (H5Dread(d, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0) bytes.clear();
      }
      H5Sclose(space);
      H5Tclose(native);
      H5Tclose(type);
      H5Dclose(d);
    }
    H5Fclose(f);
  }
  H5Eset_auto2(H5E_DEFAULT, func, data);
  return bytes;
}

template <typename T>
std::vector<T> ReadDataset(const std::string& file, const std::string& name) {
  const std::vector<unsigned char> bytes = DatasetBytes(file, name);
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

// Every dataset at the root (outputs, coordinates and parameters), name -> bytes.
inline std::map<std::string, std::vector<unsigned char>> ResultsAndParams(const std::string& file) {
  std::map<std::string, std::vector<unsigned char>> all;
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return all;
  H5G_info_t info;
  H5Gget_info(f, &info);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[256];
    H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
    H5O_info_t object;
    if (H5Oget_info_by_name2(f, name, &object, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        object.type != H5O_TYPE_DATASET) {
      continue;
    }
    const std::string path = std::string("/") + name;
    all[path] = DatasetBytes(file, path);
  }
  H5Fclose(f);
  return all;
}

}  // namespace sweep::testing
