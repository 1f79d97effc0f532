#include "kernels/python.h"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <utility>

#include "io/error.h"
#include "kernels/program.h"
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

// What a worker keeps: the library's state.
struct PythonState {
  const sweep_python_library* library = nullptr;
  void* state = nullptr;
};

// A bound Python kernel: the table and everything it points into. compute() and finish() find
// the library through the state.
struct PythonKernel : RuntimeKernel {
  PythonSpec spec;
  std::vector<const char*> param_names, input_names, option_names;
  sweep_python_spec library_spec{};

  int Init(void** state, const sweep_options* values, const sweep_array* arrays, char* err,
           size_t err_size) override {
    const sweep_python_library* library = nullptr;
    try {
      library = LoadLibrary();
    } catch (const Error& e) {
      return sweep_fail(err, err_size, e.what());
    }
    auto s = std::make_unique<PythonState>();
    s->library = library;
    const int rc = library->init(&s->state, &library_spec, values, arrays, err, err_size);
    if (rc != 0) return rc;
    // Only the function's signature says whether it reads seeds: sweep reads the flags again
    // after init() (kernels/kernel.h), and derives none for a function that takes no `seed`.
    if (!library->takes_seed(s->state)) table.flags |= SWEEP_KERNEL_IGNORES_SEED;
    *state = s.release();
    return 0;
  }
};

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

  k->Publish("python", "python kernel", Compute, Finish);
  k->table.compute_batch = s.batch ? ComputeBatch : nullptr;

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
