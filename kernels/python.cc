#include "kernels/python.h"

#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <utility>

#include "io/error.h"
#include "kernels/python/library.h"

#ifndef SWEEP_PYTHON_VERSION
#define SWEEP_PYTHON_VERSION ""
#endif
#ifndef SWEEP_INSTALL_LIBDIR
#define SWEEP_INSTALL_LIBDIR "lib"
#endif

namespace sweep {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLibraryName = "libsweep_python.so";

// The library, once loaded (never closed: the interpreter lives as long as the process).
std::atomic<const sweep_python_library*> g_library{nullptr};
std::mutex g_library_mutex;

// Where the library may be: beside the running executable (a build folder), then where
// `cmake --install` puts it relative to the executable's bin/.
std::vector<std::string> LibraryCandidates() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (error) return {kLibraryName};
  const fs::path dir = exe.parent_path();
  return {(dir / kLibraryName).string(),
          (dir.parent_path() / SWEEP_INSTALL_LIBDIR / "sweep" / kLibraryName).string()};
}

// THROWS: Error naming every place looked at and why the last one failed.
const sweep_python_library* LoadLibrary() {
  if (const sweep_python_library* loaded = g_library.load()) return loaded;
  std::lock_guard<std::mutex> lock(g_library_mutex);
  if (const sweep_python_library* loaded = g_library.load()) return loaded;
  std::string tried;
  for (const std::string& path : LibraryCandidates()) {
    if (access(path.c_str(), F_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    // RTLD_GLOBAL: numpy's extension modules find libpython's symbols only in the global scope.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!handle) throw Error("cannot load " + path + ": " + dlerror());
    const auto entry = reinterpret_cast<sweep_python_entry_fn>(dlsym(handle, SWEEP_PYTHON_ENTRY));
    const sweep_python_library* library = entry ? entry() : nullptr;
    if (!library || library->version != SWEEP_PYTHON_LIBRARY_VERSION)
      throw Error(path + " is not the Python library of this sweep (rebuild sweep)");
    g_library.store(library);
    return library;
  }
  throw Error(
      std::string("the Python kernel's library ") + kLibraryName + " is not installed (" + tried +
      "); this sweep was built " +
      (PythonKernelsBuilt() ? "with Python: install it with `cmake --install`" : "without Python"));
}

// A bound Python kernel: the table and everything it points into. Never moved once built.
struct PythonKernel {
  sweep_kernel table{};
  std::string description;
  PythonSpec spec;
  std::vector<sweep_param_decl> params;
  std::vector<sweep_input_decl> inputs;
  std::vector<sweep_option_decl> options;
  std::vector<sweep_output_decl> outputs;
  std::vector<const char*> param_names, input_names, option_names;
  sweep_python_spec library_spec{};
  int slot = -1;
  ~PythonKernel();
};

// What a worker keeps: the library's state.
struct PythonState {
  const sweep_python_library* library = nullptr;
  void* state = nullptr;
};

// The C ABI passes outputs() and init() no pointer to their table, so each live Python kernel
// takes a slot whose functions know it (as command kernels do, kernels/command.cc). A process
// binds one config (tests a few); compute() and finish() find the library through the state.
constexpr int kSlots = 32;
std::array<std::atomic<PythonKernel*>, kSlots> g_slots{};
std::mutex g_slots_mutex;

PythonKernel::~PythonKernel() {
  if (slot >= 0) {
    std::lock_guard<std::mutex> lock(g_slots_mutex);
    g_slots[size_t(slot)] = nullptr;
  }
}

int Outputs(const PythonKernel& k, sweep_output_decl* out, int* n_out) {
  std::copy(k.outputs.begin(), k.outputs.end(), out);
  *n_out = int(k.outputs.size());
  return 0;
}

int Init(PythonKernel& k, void** state, const sweep_options* options, const sweep_array* inputs,
         char* err, size_t err_size) {
  const sweep_python_library* library = nullptr;
  try {
    library = LoadLibrary();
  } catch (const Error& e) {
    return sweep_fail(err, err_size, e.what());
  }
  auto s = std::make_unique<PythonState>();
  s->library = library;
  const int rc = library->init(&s->state, &k.library_spec, options, inputs, err, err_size);
  if (rc != 0) return rc;
  // Only the function's signature says whether it reads seeds: sweep reads the flags again
  // after init() (kernels/kernel.h), and derives none for a function that takes no `seed`.
  if (!library->takes_seed(s->state)) k.table.flags |= SWEEP_KERNEL_IGNORES_SEED;
  *state = s.release();
  return 0;
}

template <int N>
int SlotOutputs(const sweep_options*, sweep_output_decl* out, int* n_out, char*, size_t) {
  return Outputs(*g_slots[N].load(), out, n_out);
}

template <int N>
int SlotInit(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
             size_t err_size) {
  return Init(*g_slots[N].load(), state, options, inputs, err, err_size);
}

using OutputsFn = decltype(sweep_kernel::outputs);
using InitFn = decltype(sweep_kernel::init);

template <size_t... I>
constexpr std::array<std::pair<OutputsFn, InitFn>, sizeof...(I)> MakeSlotFunctions(
    std::index_sequence<I...>) {
  return {{{SlotOutputs<int(I)>, SlotInit<int(I)>}...}};
}
constexpr auto kSlotFunctions = MakeSlotFunctions(std::make_index_sequence<kSlots>());

void SetPoint(void* state, uint64_t point) {
  const auto* s = static_cast<const PythonState*>(state);
  s->library->set_point(s->state, point);
}

int Compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs, char* err,
            size_t err_size) {
  const auto* s = static_cast<const PythonState*>(state);
  return s->library->compute(s->state, params, seed, outputs, err, err_size);
}

int ComputeBatch(void* state, const sweep_batch* batch, sweep_array* outputs, int64_t* failed,
                 char* err, size_t err_size) {
  const auto* s = static_cast<const PythonState*>(state);
  return s->library->compute_batch(s->state, batch, outputs, failed, err, err_size);
}

void Finish(void* state) {
  auto* s = static_cast<PythonState*>(state);
  if (!s) return;
  s->library->finish(s->state);
  delete s;
}

}  // namespace

bool PythonKernelsBuilt() {
#ifdef SWEEP_HAVE_PYTHON
  return true;
#else
  return false;
#endif
}

std::string PythonVersionBuilt() { return SWEEP_PYTHON_VERSION; }

PythonKernelTable MakePythonKernel(PythonSpec spec) {
  auto k = std::make_shared<PythonKernel>();
  k->spec = std::move(spec);
  const PythonSpec& s = k->spec;
  for (const std::string& p : s.param_names) {
    k->params.push_back(sweep_param_decl{p.c_str(), "a sweep parameter, passed by its name"});
    k->param_names.push_back(p.c_str());
  }
  for (const std::string& i : s.input_names) {
    // dtype 0 and rank -1: any array (driver/binding.h), a numpy array of its own dtype.
    k->inputs.push_back(sweep_input_decl{i.c_str(), 0, -1, "an input of the config"});
    k->input_names.push_back(i.c_str());
  }
  for (const PythonOption& o : s.options) {
    sweep_option_decl decl{};
    decl.name = o.name.c_str();
    decl.type = o.type;
    decl.default_value.type = o.type;
    decl.default_value.string = "";
    decl.help = "an option of the config, passed by its name";
    k->options.push_back(decl);
    k->option_names.push_back(o.name.c_str());
  }
  for (const PythonOutput& o : s.outputs) {
    sweep_output_decl decl{};
    decl.name = o.name.c_str();
    decl.dtype = o.dtype;
    decl.rank = int(o.shape.size());
    for (size_t d = 0; d < o.shape.size() && d < SWEEP_MAX_RANK; ++d) decl.shape[d] = o.shape[d];
    k->outputs.push_back(decl);
  }
  k->description = "calls `" + s.function + "` of " + s.model_path +
                   (s.batch ? " once per block of points" : " once per point");

  sweep_python_spec& c = k->library_spec;
  c.model_path = s.model_path.c_str();
  c.function = s.function.c_str();
  c.config_dir = s.config_dir.c_str();
  c.batch = s.batch ? 1 : 0;
  c.param_names = k->param_names.data();
  c.n_params = int(k->param_names.size());
  c.input_names = k->input_names.data();
  c.n_inputs = int(k->input_names.size());
  c.option_names = k->option_names.data();
  c.n_options = int(k->option_names.size());
  c.outputs = k->outputs.data();
  c.n_outputs = int(k->outputs.size());

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
    throw Error("python kernel: more than " + std::to_string(kSlots) + " bound at once");

  sweep_kernel& t = k->table;
  t.abi_version = SWEEP_KERNEL_ABI;
  t.name = "python";
  t.description = k->description.c_str();
  t.options = k->options.data();
  t.n_options = int(k->options.size());
  t.params = k->params.data();
  t.n_params = int(k->params.size());
  t.inputs = k->inputs.data();
  t.n_inputs = int(k->inputs.size());
  t.max_outputs = int(k->outputs.size());
  t.outputs = kSlotFunctions[size_t(k->slot)].first;
  t.init = kSlotFunctions[size_t(k->slot)].second;
  t.compute = Compute;
  t.finish = Finish;
  t.flags = 0;
  t.compute_batch = s.batch ? ComputeBatch : nullptr;

  PythonKernelTable made;
  made.kernel = &k->table;
  made.set_point = SetPoint;
  made.owner = std::move(k);
  return made;
}

void PythonBeforeFork() {
  if (const sweep_python_library* library = g_library.load()) library->before_fork();
}

void PythonAfterForkInParent() {
  if (const sweep_python_library* library = g_library.load()) library->after_fork_in_parent();
}

void PythonAfterForkInChild() {
  if (const sweep_python_library* library = g_library.load()) library->after_fork_in_child();
}

}  // namespace sweep
