#include "kernels/program.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <mutex>
#include <utility>

#include "io/error.h"

namespace sweep {

std::string Render(const CommandTemplate& pieces, const sweep_value* params, uint64_t seed,
                   uint64_t point) {
  PointText text;
  text.params = params;
  text.seed = seed;
  text.point = point;
  return RenderCommandTemplate(pieces, text);
}

std::vector<sweep_output_decl> OutputDecls(const std::vector<CommandOutput>& outputs) {
  std::vector<sweep_output_decl> decls;
  for (const CommandOutput& o : outputs) {
    sweep_output_decl decl{};
    decl.name = o.name.c_str();
    decl.dtype = o.dtype;
    decl.rank = int(o.shape.size());
    for (size_t d = 0; d < o.shape.size() && d < SWEEP_MAX_RANK; ++d) decl.shape[d] = o.shape[d];
    decls.push_back(decl);
  }
  return decls;
}

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

std::string WithTail(std::string message, const std::string& label, const std::string& log,
                     size_t err_size) {
  size_t tail_end = log.size();
  while (tail_end > 0 && std::isspace(static_cast<unsigned char>(log[tail_end - 1]))) --tail_end;
  if (tail_end == 0 || err_size <= message.size() + label.size() + 64) return message;
  const size_t room = err_size - 1 - message.size() - label.size();
  size_t from = tail_end > room ? tail_end - room : 0;
  std::string tail;
  for (;;) {
    if (from > 0) {
      const size_t line = log.find('\n', from - 1);
      if (line != std::string::npos && line + 1 < tail_end && line + 1 - from < 200)
        from = line + 1;
    }
    tail = (from > 0 ? "..." : "") + Printable(log.substr(from, tail_end - from));
    if (tail.size() <= room) break;
    from += tail.size() - room;  // Printable() lengthened line breaks: drop as much more
  }
  return message + label + tail;
}

bool Blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

// ---- Pipes ----

Pipe::Pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) == 0) read = fds[0], write = fds[1];
}

Pipe::~Pipe() {
  CloseRead();
  CloseWrite();
}

void Pipe::CloseRead() {
  if (read >= 0) close(read);
  read = -1;
}

void Pipe::CloseWrite() {
  if (write >= 0) close(write);
  write = -1;
}

bool Drain(int fd, std::string* text, size_t keep_tail, size_t limit) {
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    text->append(buffer, size_t(n));
    if (keep_tail && text->size() > 2 * keep_tail) text->erase(0, text->size() - keep_tail);
    if (!keep_tail && text->size() > limit) return true;
  }
}

// ---- Death of the driver ----

namespace {

// Read by the death handler below, so a lock-free atomic.
std::atomic<pid_t> g_program_group{0};
static_assert(std::atomic<pid_t>::is_always_lock_free, "read in a signal handler");

// A real-time signal nothing else sends.
const int kWorkerDeathSignal = SIGRTMIN + 3;

void KillProgramAndDie(int) {
  const pid_t group = g_program_group.load(std::memory_order_relaxed);
  if (group > 0) kill(-group, SIGKILL);
  _exit(128 + SIGKILL);  // as it would have died of the SIGKILL it replaces
}

}  // namespace

void SetProgramGroup(pid_t group) { g_program_group.store(group); }

void KillProgramWhenTheDriverDies() {
  int death_signal = 0;
  if (prctl(PR_GET_PDEATHSIG, &death_signal) != 0) return;
  if (death_signal != SIGKILL && death_signal != kWorkerDeathSignal) return;
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

pid_t StartProgram(const std::string& path, const std::vector<std::string>& argv,
                   const ChildSetup& setup) {
  sigset_t death, before;
  sigemptyset(&death);
  sigaddset(&death, kWorkerDeathSignal);
  pthread_sigmask(SIG_BLOCK, &death, &before);
  pid_t pid = -1;
  try {
    pid = ForkExec(path, argv, setup);
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
    throw;
  }
  SetProgramGroup(pid);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);  // a death meanwhile is handled here
  return pid;
}

// ---- Slots of kernels made at run time ----

namespace {

// A process binds one config (tests a few), so a handful of slots is plenty.
constexpr int kSlots = 32;
std::array<std::atomic<RuntimeKernel*>, kSlots> g_slots{};
std::mutex g_slots_mutex;

template <int N>
int SlotOutputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
                size_t err_size) {
  return g_slots[N].load()->Outputs(options, out, n_out, err, err_size);
}

template <int N>
int SlotInit(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
             size_t err_size) {
  return g_slots[N].load()->Init(state, options, inputs, err, err_size);
}

using OutputsFn = decltype(sweep_kernel::outputs);
using InitFn = decltype(sweep_kernel::init);

template <size_t... I>
constexpr std::array<std::pair<OutputsFn, InitFn>, sizeof...(I)> MakeSlotFunctions(
    std::index_sequence<I...>) {
  return {{{SlotOutputs<int(I)>, SlotInit<int(I)>}...}};
}
constexpr auto kSlotFunctions = MakeSlotFunctions(std::make_index_sequence<kSlots>());

}  // namespace

RuntimeKernel::~RuntimeKernel() {
  if (slot_ < 0) return;
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  g_slots[size_t(slot_)] = nullptr;
}

int RuntimeKernel::Outputs(const sweep_options*, sweep_output_decl* out, int* n_out, char*,
                           size_t) {
  std::copy(outputs.begin(), outputs.end(), out);
  *n_out = int(outputs.size());
  return 0;
}

void RuntimeKernel::Publish(const char* name, const std::string& what,
                            decltype(sweep_kernel::compute) compute,
                            decltype(sweep_kernel::finish) finish) {
  {
    std::lock_guard<std::mutex> lock(g_slots_mutex);
    for (int i = 0; i < kSlots && slot_ < 0; ++i) {
      if (!g_slots[size_t(i)].load()) {
        g_slots[size_t(i)] = this;
        slot_ = i;
      }
    }
  }
  if (slot_ < 0) throw Error(what + ": more than " + std::to_string(kSlots) + " bound at once");
  sweep_kernel& t = table;
  t.abi_version = SWEEP_KERNEL_ABI;
  t.name = name;
  t.description = description.c_str();
  t.options = options.empty() ? nullptr : options.data();
  t.n_options = int(options.size());
  t.params = params.empty() ? nullptr : params.data();
  t.n_params = int(params.size());
  t.inputs = inputs.empty() ? nullptr : inputs.data();
  t.n_inputs = int(inputs.size());
  t.max_outputs = int(outputs.size());
  t.outputs = kSlotFunctions[size_t(slot_)].first;
  t.init = kSlotFunctions[size_t(slot_)].second;
  t.compute = compute;
  t.finish = finish;
  t.flags = 0;
  t.compute_batch = nullptr;
}

}  // namespace sweep
