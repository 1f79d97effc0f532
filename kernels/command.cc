#include "kernels/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "io/clock.h"
#include "io/error.h"
#include "io/process.h"
#include "kernels/dtype.h"

extern char** environ;

namespace sweep {
namespace {

constexpr size_t kStdoutLimit = size_t{64} << 20;
constexpr size_t kStderrKeep = 4096;
constexpr uint64_t kNoPoint = std::numeric_limits<uint64_t>::max();

using Piece = CommandArgPiece;
using ArgTemplate = CommandArg;

// A bound command kernel: the table and everything it points into. Never moved once built.
struct CommandKernel {
  sweep_kernel table{};
  std::string description;
  std::string program;  // argv[0] as written: what messages name and what the program sees
  std::string path;     // the executable that runs
  std::vector<ArgTemplate> args;  // argv[1..]
  std::vector<std::string> param_names;
  std::vector<sweep_param_decl> params;
  std::vector<std::string> output_names;
  std::vector<sweep_output_decl> outputs;
  double limit_seconds = 0;  // per point; 0: none
  int slot = -1;
  ~CommandKernel();
};

// What a worker keeps between points.
struct CommandState {
  const CommandKernel* kernel = nullptr;
  uint64_t point = kNoPoint;
  int devnull = -1;
  std::vector<std::string> environment;  // the worker's, without SWEEP_POINT and SWEEP_SEED
};

// The C ABI passes outputs() and init() no pointer to their table, so each live command kernel
// takes a slot whose functions know it. A process binds one config (tests a few), so a handful
// of slots is plenty; compute() and finish() find the kernel through the state.
constexpr int kSlots = 32;
std::array<std::atomic<CommandKernel*>, kSlots> g_slots{};
std::mutex g_slots_mutex;

CommandKernel::~CommandKernel() {
  if (slot >= 0) {
    std::lock_guard<std::mutex> lock(g_slots_mutex);
    g_slots[size_t(slot)] = nullptr;
  }
}

int Fail(char* err, size_t err_size, const std::string& message) {
  return sweep_fail(err, err_size, message.c_str());
}

int Outputs(const CommandKernel& k, sweep_output_decl* out, int* n_out) {
  std::copy(k.outputs.begin(), k.outputs.end(), out);
  *n_out = int(k.outputs.size());
  return 0;
}

// The process group of the program running now in this worker, 0 between points. Read by the
// death handler below, so a lock-free atomic.
std::atomic<pid_t> g_program_group{0};
static_assert(std::atomic<pid_t>::is_always_lock_free, "read in a signal handler");

// The signal a worker running command kernels gets when the driver dies, instead of SIGKILL: a
// real-time signal nothing else sends. The program has its own process group (so a timeout can
// kill all it started) and so does not die with the worker's group; its own death signal kills
// it but not what it started (a script's children). So the worker, told of the driver's death,
// kills the program's whole group before dying itself.
const int kWorkerDeathSignal = SIGRTMIN + 3;

void KillProgramAndDie(int) {
  const pid_t group = g_program_group.load(std::memory_order_relaxed);
  if (group > 0) kill(-group, SIGKILL);
  _exit(128 + SIGKILL);  // as it would have died of the SIGKILL it replaces
}

// Only in a worker (whose death signal the launcher set to SIGKILL): `rerun --inline` runs the
// kernel in the driver, which keeps the behaviour it has.
void KillProgramWhenTheDriverDies() {
  int death_signal = 0;
  if (prctl(PR_GET_PDEATHSIG, &death_signal) != 0 || death_signal != SIGKILL) return;
  struct sigaction action {};
  action.sa_handler = KillProgramAndDie;
  sigemptyset(&action.sa_mask);
  sigaction(kWorkerDeathSignal, &action, nullptr);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, kWorkerDeathSignal);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  prctl(PR_SET_PDEATHSIG, kWorkerDeathSignal);
}

int Init(const CommandKernel& k, void** state, char* err, size_t err_size) {
  KillProgramWhenTheDriverDies();
  auto s = std::make_unique<CommandState>();
  s->kernel = &k;
  s->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (s->devnull < 0) return Fail(err, err_size, std::string("/dev/null: ") + strerror(errno));
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "SWEEP_POINT=", 12) != 0 && std::strncmp(*e, "SWEEP_SEED=", 11) != 0)
      s->environment.emplace_back(*e);
  }
  *state = s.release();
  return 0;
}

template <int N>
int SlotOutputs(const sweep_options*, sweep_output_decl* out, int* n_out, char*, size_t) {
  return Outputs(*g_slots[N].load(), out, n_out);
}

template <int N>
int SlotInit(void** state, const sweep_options*, const sweep_array*, char* err, size_t err_size) {
  return Init(*g_slots[N].load(), state, err, err_size);
}

using OutputsFn = decltype(sweep_kernel::outputs);
using InitFn = decltype(sweep_kernel::init);

template <size_t... I>
constexpr std::array<std::pair<OutputsFn, InitFn>, sizeof...(I)> MakeSlotFunctions(
    std::index_sequence<I...>) {
  return {{{SlotOutputs<int(I)>, SlotInit<int(I)>}...}};
}
constexpr auto kSlotFunctions = MakeSlotFunctions(std::make_index_sequence<kSlots>());

void SetPoint(void* state, uint64_t point) { static_cast<CommandState*>(state)->point = point; }

void Finish(void* state) {
  auto* s = static_cast<CommandState*>(state);
  if (!s) return;
  if (s->devnull >= 0) close(s->devnull);
  delete s;
}

// The text of a message must be one line of valid UTF-8 (the journal stores it as JSON): line
// breaks become " | ", other control bytes and invalid sequences `?`.
std::string Printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c == '\n') {
      out += " | ";
      ++i;
    } else if (c == '\t') {
      out += ' ';
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
      ++i;
    } else if (c < 0x80) {
      out += char(c);
      ++i;
    } else {
      const int len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = len > 0 && i + size_t(len) <= n;
      for (int j = 1; ok && j < len; ++j) ok = (s[i + size_t(j)] & 0xc0) == 0x80;
      // Overlong three- and four-byte forms, surrogates and code points past U+10FFFF.
      if (ok && len == 3) ok = !(c == 0xe0 && s[i + 1] < 0xa0) && !(c == 0xed && s[i + 1] >= 0xa0);
      if (ok && len == 4) ok = !(c == 0xf0 && s[i + 1] < 0x90) && !(c == 0xf4 && s[i + 1] >= 0x90);
      if (ok) {
        out.append(text, i, size_t(len));
        i += size_t(len);
      } else {
        out += '?';
        ++i;
      }
    }
  }
  return out;
}

// ---- Reading outputs ----

// A value for one element of an output, before its dtype is applied.
struct Number {
  bool integral = false;  // `integer` holds it exactly
  int64_t integer = 0;
  double number = 0;
};

std::optional<Number> ParseNumber(const std::string& token) {
  Number n;
  errno = 0;
  char* end = nullptr;
  const long long i = std::strtoll(token.c_str(), &end, 10);
  if (!token.empty() && *end == '\0' && errno == 0) {
    n.integral = true;
    n.integer = i;
    n.number = double(i);
    return n;
  }
  errno = 0;
  const double d = std::strtod(token.c_str(), &end);
  if (token.empty() || *end != '\0') return std::nullopt;
  n.number = d;
  return n;
}

// Writes element i of an output; returns what is wrong, or "".
std::string Store(const sweep_output_decl& decl, sweep_array& view, uint64_t i, const Number& v) {
  switch (decl.dtype) {
    case SWEEP_FLOAT64:
      static_cast<double*>(view.data)[i] = v.number;
      return "";
    case SWEEP_FLOAT32:
      static_cast<float*>(view.data)[i] = float(v.number);
      return "";
  }
  int64_t x = v.integer;
  if (!v.integral) {
    // 2^63 is exact in a double, so this bound keeps the cast defined.
    if (!(std::trunc(v.number) == v.number && std::fabs(v.number) < 9223372036854775808.0))
      return fmt::format("{} is not an integer", v.number);
    x = int64_t(v.number);
  }
  const auto in = [&](int64_t lo, int64_t hi) { return x >= lo && x <= hi; };
  switch (decl.dtype) {
    case SWEEP_INT64:
      static_cast<int64_t*>(view.data)[i] = x;
      return "";
    case SWEEP_INT32:
      if (!in(INT32_MIN, INT32_MAX)) return std::to_string(x) + " is out of range for int32";
      static_cast<int32_t*>(view.data)[i] = int32_t(x);
      return "";
    case SWEEP_UINT8:
      if (!in(0, 255)) return std::to_string(x) + " is out of range for uint8";
      static_cast<uint8_t*>(view.data)[i] = uint8_t(x);
      return "";
  }
  return "unknown dtype";
}

uint64_t Elements(const sweep_output_decl& decl) {
  uint64_t n = 1;
  for (int d = 0; d < decl.rank; ++d) n *= uint64_t(decl.shape[d]);
  return n;
}

std::string Plural(uint64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

int FindOutput(const std::vector<sweep_output_decl>& decls, const std::string& name) {
  for (size_t i = 0; i < decls.size(); ++i)
    if (name == decls[i].name) return int(i);
  return -1;
}

std::string OutputList(const std::vector<sweep_output_decl>& decls) {
  std::string names;
  for (const sweep_output_decl& d : decls)
    names += (names.empty() ? "" : ", ") + std::string(d.name);
  return names;
}

// Flattens a JSON number or (nested) array of numbers in C order.
// Markers for the infinities of AcceptNonFiniteTokens(): strings no JSON output may hold, since
// outputs are numbers.
const char kPositiveInfinity[] = "\x01+Infinity";
const char kNegativeInfinity[] = "\x01-Infinity";

// JSON has no NaN nor infinities, but Python's json.dumps writes them bare (NaN, Infinity,
// -Infinity), as do JavaScript and many codes: outside strings they become null (NaN) and
// marker strings that FlattenJson reads as the infinities.
std::string AcceptNonFiniteTokens(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    const auto at = [&](const char* token) {
      return text.compare(i, std::strlen(token), token) == 0;
    };
    if (at("NaN")) {
      out += "null";
      i += 2;
    } else if (at("-Infinity")) {
      out += "\"\\u0001-Infinity\"";
      i += 8;
    } else if (at("Infinity")) {
      out += "\"\\u0001+Infinity\"";
      i += 7;
    } else {
      out += c;
    }
  }
  return out;
}

std::string FlattenJson(const nlohmann::json& j, std::vector<Number>* out) {
  if (j.is_array()) {
    for (const nlohmann::json& item : j) {
      std::string error = FlattenJson(item, out);
      if (!error.empty()) return error;
    }
    return "";
  }
  Number n;
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    n.integral = u <= uint64_t(std::numeric_limits<int64_t>::max());
    n.integer = int64_t(u);
    n.number = double(u);
  } else if (j.is_number_integer()) {
    n.integral = true;
    n.integer = j.get<int64_t>();
    n.number = double(n.integer);
  } else if (j.is_number_float()) {
    n.number = j.get<double>();
  } else if (j.is_null()) {
    n.number = std::numeric_limits<double>::quiet_NaN();
  } else if (j.is_string() && (j == kPositiveInfinity || j == kNegativeInfinity)) {
    // Python's json.dumps and JavaScript print these bare; AcceptNonFiniteTokens quoted them.
    n.number = j == kPositiveInfinity ? std::numeric_limits<double>::infinity()
                                      : -std::numeric_limits<double>::infinity();
  } else {
    return std::string("expected numbers, got ") + j.type_name();
  }
  out->push_back(n);
  return "";
}

std::string StoreAll(const sweep_output_decl& decl, sweep_array& view,
                     const std::vector<Number>& values) {
  const uint64_t expected = Elements(decl);
  if (values.size() != expected) {
    return "output `" + std::string(decl.name) + "`: expected " + Plural(expected, "value") +
           ", got " + std::to_string(values.size());
  }
  for (uint64_t i = 0; i < expected; ++i) {
    const std::string error = Store(decl, view, i, values[i]);
    if (!error.empty()) return "output `" + std::string(decl.name) + "`: " + error;
  }
  return "";
}

std::string ReadJson(const std::string& text, const std::vector<sweep_output_decl>& decls,
                     sweep_array* outputs) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(AcceptNonFiniteTokens(text));
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    const size_t bracket = what.find("] ");
    if (what.rfind("[json.exception", 0) == 0 && bracket != std::string::npos)
      what.erase(0, bracket + 2);
    return "malformed JSON on stdout: " + what;
  }
  if (!j.is_object()) return "stdout is JSON but not an object";
  for (const auto& [name, value] : j.items()) {
    if (FindOutput(decls, name) < 0)
      return "stdout names `" + name + "`, which is not an output (outputs: " + OutputList(decls) +
             ")";
  }
  for (size_t o = 0; o < decls.size(); ++o) {
    const auto it = j.find(decls[o].name);
    if (it == j.end()) return "missing output `" + std::string(decls[o].name) + "` on stdout";
    if (decls[o].rank == 0 && it->is_array())
      return "output `" + std::string(decls[o].name) + "`: expected a number, got an array";
    std::vector<Number> values;
    std::string error = FlattenJson(*it, &values);
    if (!error.empty()) return "output `" + std::string(decls[o].name) + "`: " + error;
    error = StoreAll(decls[o], outputs[o], values);
    if (!error.empty()) return error;
  }
  return "";
}

std::string ReadLines(const std::string& text, const std::vector<sweep_output_decl>& decls,
                      sweep_array* outputs) {
  std::vector<bool> seen(decls.size(), false);
  size_t line_number = 0;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    std::vector<std::string> tokens;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      size_t j = i;
      while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
      if (j > i) tokens.push_back(line.substr(i, j - i));
      i = j;
    }
    if (tokens.empty()) continue;
    const std::string where = "stdout line " + std::to_string(line_number) + ": ";
    const int o = FindOutput(decls, tokens[0]);
    if (o < 0) {
      std::string shown = tokens[0].size() > 40 ? tokens[0].substr(0, 40) + "..." : tokens[0];
      return where + "`" + shown + "` is not an output (outputs: " + OutputList(decls) +
             "; expected `name value...` lines or one JSON object)";
    }
    if (seen[size_t(o)]) return where + "output `" + tokens[0] + "` given twice";
    seen[size_t(o)] = true;
    std::vector<Number> values;
    for (size_t t = 1; t < tokens.size(); ++t) {
      std::optional<Number> n = ParseNumber(tokens[t]);
      if (!n) {
        std::string shown = tokens[t].size() > 40 ? tokens[t].substr(0, 40) + "..." : tokens[t];
        return where + "output `" + tokens[0] + "`: `" + shown + "` is not a number";
      }
      values.push_back(*n);
    }
    const std::string error = StoreAll(decls[size_t(o)], outputs[o], values);
    if (!error.empty()) return where + error;
  }
  for (size_t o = 0; o < decls.size(); ++o)
    if (!seen[o]) return "missing output `" + std::string(decls[o].name) + "` on stdout";
  return "";
}

// ---- Running the program ----

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == 0) read = fds[0], write = fds[1];
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  void CloseRead() {
    if (read >= 0) close(read);
    read = -1;
  }
  void CloseWrite() {
    if (write >= 0) close(write);
    write = -1;
  }
};

struct RunOutcome {
  std::string start_error;  // the program did not start: why
  int wait_status = 0;
  bool timed_out = false;
  bool stdout_overflow = false;
  std::string out;
  std::string err;  // the last kStderrKeep bytes
};

// Reads what fd has now into *text; returns false at end of file (or on an error).
bool Drain(int fd, std::string* text, size_t keep_tail) {
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    text->append(buffer, size_t(n));
    if (keep_tail && text->size() > 2 * keep_tail) text->erase(0, text->size() - keep_tail);
    if (!keep_tail && text->size() > kStdoutLimit) return true;
  }
}

RunOutcome Run(const CommandState& s, const std::vector<std::string>& argv,
               const std::vector<std::string>& env) {
  RunOutcome r;
  Pipe out, err;
  if (out.read < 0 || err.read < 0) {
    r.start_error = std::string("pipe: ") + strerror(errno);
    return r;
  }
  const double limit = s.kernel->limit_seconds;
  const double deadline = limit > 0 ? SteadySeconds() + limit : 0;
  // Its own process group, so a timeout kills everything the program started; killed if the
  // worker dies, since the driver's kill of the worker's group does not reach this one.
  ChildSetup setup;
  setup.fds = {{s.devnull, 0}, {out.write, 1}, {err.write, 2}};
  setup.env = env;
  pid_t pid;
  try {
    pid = ForkExec(s.kernel->path, argv, setup);
  } catch (const Error& e) {
    r.start_error = e.what();
    return r;
  }
  g_program_group.store(pid);
  out.CloseWrite();
  err.CloseWrite();
  fcntl(out.read, F_SETFL, fcntl(out.read, F_GETFL) | O_NONBLOCK);
  fcntl(err.read, F_SETFL, fcntl(err.read, F_GETFL) | O_NONBLOCK);

  // True once the program has exited, leaving it a zombie: its pid, and so its process group's
  // id, cannot be reused until we reap it, which makes killing the group after it safe.
  const auto exited = [&](bool block) {
    siginfo_t info{};
    const int options = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
    while (waitid(P_PID, id_t(pid), &info, options) < 0) {
      if (errno != EINTR) return true;  // nothing to wait for: reaped or not ours
    }
    return info.si_pid == pid;
  };
  bool out_open = true, err_open = true, done = false;
  while (!done && (out_open || err_open)) {
    // Wake at least every 50 ms: a program may exit while something it started still holds
    // its stdout, and that must not hold up the point.
    int wait_ms = 50;
    if (deadline > 0) {
      const double left = deadline - SteadySeconds();
      if (left <= 0) {
        r.timed_out = true;
        break;
      }
      wait_ms = int(std::min(50.0, std::ceil(left * 1000)));
    }
    pollfd fds[2] = {{out_open ? out.read : -1, POLLIN, 0}, {err_open ? err.read : -1, POLLIN, 0}};
    const int n = poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (n == 0) done = exited(false);
    if (out_open) out_open = Drain(out.read, &r.out, 0);
    if (err_open) err_open = Drain(err.read, &r.err, kStderrKeep);
    if (r.out.size() > kStdoutLimit) {
      r.stdout_overflow = true;
      break;
    }
  }
  if (!r.timed_out && !r.stdout_overflow) {
    // stdout and stderr are closed (or the program exited): wait for it, within the limit.
    if (deadline <= 0) {
      exited(true);
    } else {
      while (!exited(false)) {
        if (SteadySeconds() >= deadline) {
          r.timed_out = true;
          break;
        }
        usleep(2000);
      }
    }
  }
  // Whatever is left of its group goes with it: a timeout, or what it started and left behind.
  kill(-pid, SIGKILL);
  g_program_group.store(0);
  while (waitpid(pid, &r.wait_status, 0) < 0) {
    if (errno == EINTR) continue;
    r.start_error = std::string("lost its exit status: waitpid: ") + strerror(errno);
    break;
  }
  if (r.err.size() > kStderrKeep) r.err.erase(0, r.err.size() - kStderrKeep);
  return r;
}

int Compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs, char* err,
            size_t err_size) {
  const CommandState& s = *static_cast<const CommandState*>(state);
  const CommandKernel& k = *s.kernel;
  const std::string name = "command `" + k.program + "`: ";
  std::vector<std::string> argv = {k.program};
  for (const ArgTemplate& arg : k.args) {
    std::string text;
    for (const Piece& piece : arg) {
      switch (piece.kind) {
        case Piece::Kind::kText:
          text += piece.text;
          break;
        case Piece::Kind::kParam:
          text += ValueText(params[piece.param]);
          break;
        case Piece::Kind::kSeed:
          text += std::to_string(seed);
          break;
        case Piece::Kind::kPoint:
          if (s.point == kNoPoint)
            return Fail(err, err_size, name + "{point} used, but the caller gave no point index");
          text += std::to_string(s.point);
          break;
      }
    }
    argv.push_back(std::move(text));
  }
  std::vector<std::string> env = s.environment;
  if (s.point != kNoPoint) env.push_back("SWEEP_POINT=" + std::to_string(s.point));
  env.push_back("SWEEP_SEED=" + std::to_string(seed));

  RunOutcome r = Run(s, argv, env);
  std::string problem;
  if (!r.start_error.empty()) {
    problem = r.start_error;
  } else if (r.timed_out) {
    problem = fmt::format(
        "timed out after {:.3g} s (execution.timeout less its margin); its "
        "process group was killed",
        k.limit_seconds);
  } else if (r.stdout_overflow) {
    problem = "wrote more than 64 MiB on stdout; killed";
  } else if (!WIFEXITED(r.wait_status) || WEXITSTATUS(r.wait_status) != 0) {
    problem = WIFSIGNALED(r.wait_status) ? "killed by " + DescribeWaitStatus(r.wait_status)
                                         : "failed with " + DescribeWaitStatus(r.wait_status);
  } else if (r.out.find_first_not_of(" \t\r\n") == std::string::npos) {
    problem = "printed nothing on stdout (expected its outputs: " + OutputList(k.outputs) + ")";
  } else {
    const size_t first = r.out.find_first_not_of(" \t\r\n");
    problem = r.out[first] == '{' ? ReadJson(r.out, k.outputs, outputs)
                                  : ReadLines(r.out, k.outputs, outputs);
  }
  if (problem.empty()) return 0;

  // As much of stderr's tail as the message has room for, from a line start when one is near.
  std::string message = Printable(name + problem);
  const std::string label = "; stderr: ";
  size_t tail_end = r.err.size();
  while (tail_end > 0 && (r.err[tail_end - 1] == '\n' || r.err[tail_end - 1] == '\r')) --tail_end;
  if (tail_end > 0 && err_size > message.size() + label.size() + 64) {
    const size_t room = err_size - 1 - message.size() - label.size();
    size_t from = tail_end > room ? tail_end - room : 0;
    std::string tail;
    for (;;) {
      if (from > 0) {
        const size_t line = r.err.find('\n', from - 1);
        if (line != std::string::npos && line + 1 < tail_end && line + 1 - from < 200)
          from = line + 1;
      }
      tail = (from > 0 ? "..." : "") + Printable(r.err.substr(from, tail_end - from));
      if (tail.size() <= room) break;
      from += tail.size() - room;  // Printable() lengthened line breaks: drop as much more
    }
    message += label + tail;
  }
  return Fail(err, err_size, message);
}

}  // namespace

std::string ReadCommandOutputs(const std::string& stdout_text,
                               const std::vector<sweep_output_decl>& decls, sweep_array* outputs) {
  const size_t first = stdout_text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "nothing on stdout";
  return stdout_text[first] == '{' ? ReadJson(stdout_text, decls, outputs)
                                   : ReadLines(stdout_text, decls, outputs);
}

CommandKernelTable MakeCommandKernel(CommandSpec spec) {
  auto k = std::make_shared<CommandKernel>();
  k->program = std::move(spec.program);
  k->path = std::move(spec.path);
  k->args = std::move(spec.args);
  k->param_names = std::move(spec.param_names);
  for (const CommandOutput& o : spec.outputs) {
    k->output_names.push_back(o.name);
    sweep_output_decl decl{};
    decl.dtype = o.dtype;
    decl.rank = int(o.shape.size());
    for (size_t d = 0; d < o.shape.size() && d < SWEEP_MAX_RANK; ++d) decl.shape[d] = o.shape[d];
    k->outputs.push_back(decl);
  }
  for (size_t i = 0; i < k->outputs.size(); ++i) k->outputs[i].name = k->output_names[i].c_str();
  for (const std::string& p : k->param_names)
    k->params.push_back(
        sweep_param_decl{p.c_str(), "a sweep parameter the command's arguments name"});
  k->limit_seconds = spec.limit_seconds;
  k->description = "runs `" + k->program + "` once per point";

  {
    std::lock_guard<std::mutex> lock(g_slots_mutex);
    for (int i = 0; i < kSlots && k->slot < 0; ++i) {
      if (!g_slots[size_t(i)].load()) {
        g_slots[size_t(i)] = k.get();
        k->slot = i;
      }
    }
  }
  if (k->slot < 0)
    throw Error("command kernel: more than " + std::to_string(kSlots) + " bound at once");

  sweep_kernel& t = k->table;
  t.abi_version = SWEEP_KERNEL_ABI;
  t.name = "command";
  t.description = k->description.c_str();
  t.options = nullptr;
  t.n_options = 0;
  t.params = k->params.data();
  t.n_params = int(k->params.size());
  t.inputs = nullptr;
  t.n_inputs = 0;
  t.max_outputs = int(k->outputs.size());
  t.outputs = kSlotFunctions[size_t(k->slot)].first;
  t.init = kSlotFunctions[size_t(k->slot)].second;
  t.compute = Compute;
  t.finish = Finish;

  CommandKernelTable made;
  made.kernel = &k->table;
  made.set_point = SetPoint;
  made.owner = std::move(k);
  return made;
}

}  // namespace sweep
