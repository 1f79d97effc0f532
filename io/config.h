// A sweep config: the YAML file documented key by key in configs/README.md, read into typed
// fields and checked.
//
// LoadConfig() parses the file, applies `--set key.path=value` overrides, resolves relative
// paths against the config file's folder, and checks the whole schema. It never stops at the
// first problem: every diagnostic found goes into one ConfigError (exit code 2), each naming file,
// line, column (1-based) and key path ("parameters.rho.linspace[2]", "zip[0]"). Unknown keys and
// misspelt choices get a "did you mean `x`?" suggestion.
//
// What LoadConfig() checks: YAML syntax (nesting deeper than 256 levels, several documents and
// duplicate keys are errors too), types, required keys, unknown keys, empty axes,
// linspace/logspace counts, range steps, `values:` lists (no value twice; a list that is not
// sorted is kept in its order, with a note), zip groups (known swept parameters, equal lengths, no
// parameter twice), sampling (only {uniform}/{loguniform} and constants with `sampling:`, and
// those only with it), durations, sizes, worker counts, parameter names (identifiers, since
// they name HDF5 datasets and {placeholders}; `seed`, `point`, `sample` and `replicate` are
// reserved), `attributes:` (known attribute keys, non-empty text; which variables exist is the
// binding's to check), the names a command kernel writes and reads in its work directory (`files:`
// and `results_file:`: relative paths with no `.`, `..` or empty part, so none leads out of it, and
// not the files its streams are saved in), its `env:` (variable names, scalar values, not
// SWEEP_POINT or SWEEP_SEED) and its outputs' `dims:` (identifiers, one per dimension, one size
// for a name shared by outputs).
// What it does not check: kernels (their options, inputs and outputs; see kernels/), input files
// and templates (they may not exist yet; see the inputs module and driver/command_binding.h) and
// point-count limits (see driver/space.h), because these need more than the file.
//
// Typing: a plain YAML scalar is an integer if it is one (decimal, fits int64), a number if it
// is a YAML 1.2 float ("0.5", "1e-3", ".inf"), else a string; a quoted scalar is always a string,
// so "7" stays a string. Booleans are strings ("true"): the kernel's option type decides.
//
// Overrides: the text after the first `=` is parsed as YAML (so `[0,10,5]`, `{values: [a, b]}`,
// `"7"` work) and replaces the node at key.path, creating map keys on the way; `a[i]` indexes an
// existing list item. They apply before any check. A malformed override is a Diagnostic with
// where.file "--set" and key_path the override's text; a problem in a value that an override set
// is reported with where.file "--set" (no line) and its real key path.
//
// The config keeps the text it was read from: byte for byte without overrides, re-emitted as
// YAML with them (quoted strings stay quoted, comments are lost), so an output file can store it
// and `sweep resume` can rebuild the same config later with ParseConfig(text, <a path in
// Config::folder>) — relative paths in the text resolve against the folder of that path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/error.h"

namespace sweep {

// A scalar from the config: a parameter value, a constant, an option.
struct Value {
  enum class Type { kNumber, kInteger, kString };
  Type type = Type::kNumber;
  double number = 0;    // set for kNumber and kInteger (the integer as a double)
  int64_t integer = 0;  // set for kInteger
  std::string string;   // set for kString

  static Value Number(double v);
  static Value Integer(int64_t v);
  static Value String(std::string v);
  bool operator==(const Value& other) const;  // same type and same value
  bool operator!=(const Value& other) const { return !(*this == other); }
  std::string ToString() const;  // "0.5", "3", "abc": as a user would type it
};

// One entry of `parameters:`.
struct AxisSpec {
  enum class Kind {
    kLinspace,   // start, stop, count; stop included, both endpoints exact
    kLogspace,   // 10^start .. 10^stop, count
    kValues,     // explicit list of numbers or strings
    kRange,      // integers start, stop (excluded), step (non-zero, may be negative)
    kConstant,   // one value, not a sweep dimension
    kUniform,    // sampling only: [low, high)
    kLogUniform  // sampling only: log-uniform on [low, high), 0 < low < high
  };
  std::string name;
  Kind kind = Kind::kConstant;
  double start = 0, stop = 0;  // linspace, logspace (exponents), uniform, loguniform
  int64_t count = 0;           // linspace, logspace
  int64_t range_start = 0, range_stop = 0, range_step = 1;
  std::vector<Value> values;  // values; kConstant holds its value in values[0]
  SourceLocation where;       // of the parameter's key
};

// The number of values along an axis: for a grid axis (linspace, logspace, values, range) its
// length, with an empty range 0 and the widest int64 ranges counted without overflow; 1 for a
// constant (its one value); 0 for the sampled kinds, whose count is sampling.n.
uint64_t AxisLength(const AxisSpec& axis);

struct KernelSpec {
  // Exactly one of name / plugin / command / python is set.
  std::string name;                  // a built-in kernel
  std::string plugin;                // path to a shared library (resolved against the config)
  std::vector<std::string> command;  // argv with {param} / {seed} / ... placeholders, kept
                                     // verbatim; argv[0] is not resolved against the folder (it
                                     // may name environment variables: PathTemplate)
  std::vector<SourceLocation> command_where;  // of each argument, for the binding's errors
  // `python: model.py:simulate`: the model's file (absolute) and the function it calls, `compute`
  // when the text names none (kernels/python.h).
  std::string python;
  std::string python_function;
  bool batch = false;  // python: one call per block of points, with numpy columns
  // The outputs of a command or python kernel: name -> dtype ("float64", ...), shape ([] for a
  // scalar) and the names of its dimensions (none: the output file names them <name>_0,
  // <name>_1, ...).
  struct CommandOutput {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    std::vector<std::string> dims;  // empty, or one name per dimension of shape
    SourceLocation where;           // of its name in the config
  };
  std::vector<CommandOutput> command_outputs;
  // The command kernel's `files:`, rendered into every point's work directory: the name there
  // (a relative path without `.` or `..` parts) and its template (absolute after loading).
  struct CommandFile {
    std::string name;
    std::string template_path;
    SourceLocation where;  // of the template's path in the config
  };
  std::vector<CommandFile> command_files;
  // The command kernel's `env:`: variables set for the program, values kept verbatim (templates).
  struct CommandEnv {
    std::string name;
    std::string value;
    SourceLocation where;  // of the value in the config
  };
  std::vector<CommandEnv> command_env;
  // The command kernel's `results_file:`: where it writes its outputs, a relative path in the work
  // directory like a file's name; "": its stdout.
  std::string results_file;
  // The command kernel's `workdir:`. `root` is absolute; "": beside the output, `<output>.work`.
  struct Workdir {
    enum class Keep { kFailed, kAlways, kNever };  // which points' directories stay after them
    std::string root;
    Keep keep = Keep::kFailed;
  };
  Workdir workdir;
  // The command kernel's `persistent:`: the program is started once per worker and serves points
  // over its stdin and stdout (kernels/persistent.h). `persistent: {max_points: N}` starts it
  // again after N points (max_points; 0: never).
  bool persistent = false;
  uint64_t max_points = 0;
  std::map<std::string, Value> options;                // as written; checked against the kernel
  std::map<std::string, SourceLocation> option_where;  // where each option was written
  SourceLocation where;                                // of `kernel:`
};

struct InputSpec {
  enum class Kind { kHdf5, kNpy, kRaw, kGenerate };
  std::string name;
  Kind kind = Kind::kNpy;
  std::string path;               // hdf5, npy, raw (absolute after loading)
  std::string dataset;            // hdf5
  std::string dtype = "float64";  // raw (required there), generate (optional)
  std::vector<int64_t> shape;     // raw, generate
  std::string distribution;       // generate: normal | uniform | zeros | arange
  uint64_t seed = 0;              // generate; 0 when not given
  SourceLocation where;           // of the input's key
};

struct SamplingSpec {
  enum class Method { kNone, kUniform, kLhs, kSobol };
  Method method = Method::kNone;
  int64_t n = 0;
  SourceLocation where;  // of `sampling:`
};

// The most `execution.threads` takes: far above any machine's cores, far below what would
// overflow anything that multiplies it.
inline constexpr int64_t kMaxThreadsPerWorker = 1 << 20;

// The most retries a chunk gets: with the backoff capped at 30 s (driver/scheduler.h), a hanging
// chunk is given up within an hour even with a timeout of seconds.
inline constexpr int64_t kMaxRetries = 100;

struct ExecutionSpec {
  enum class Schedule { kDynamic, kStatic };
  // spawn: exec sweep-worker; fork: fork the driver; forkserver: fork a zygote that initialised
  // the kernel once (driver/zygote.h).
  enum class Start { kSpawn, kFork, kForkserver };
  // `gpus:` none; auto (the devices the driver sees: its CUDA_VISIBLE_DEVICES, else `nvidia-smi
  // -L`, driver/gpus.h); or a list of devices, each as CUDA_VISIBLE_DEVICES names one.
  enum class Gpus { kNone, kAuto, kList };
  int workers = 0;         // 0: auto (the number of online cores)
  int64_t chunk_size = 0;  // 0: auto (see driver/plan.h)
  Schedule schedule = Schedule::kDynamic;
  Start start = Start::kSpawn;
  // OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and NUMEXPR_NUM_THREADS of every
  // worker, where the environment does not set them (driver/thread_limits.h).
  int threads = 1;
  double timeout_seconds = 0;       // per chunk; 0: none
  int retries = 2;                  // at most kMaxRetries
  uint64_t memory_limit_bytes = 0;  // per worker, private memory; 0: none
  // Chunks failed for good (after their retries) in one invocation, after which no more chunks
  // are handed out; 0: none.
  uint64_t max_failures = 100;
  Gpus gpus = Gpus::kNone;
  std::vector<std::string> gpu_devices;  // kList: the devices, in order ("0", "GPU-8c3f...")
};

struct OutputSpec {
  // Absolute after loading; default "results/<name>.h5" beside the config. A run sets it to the
  // file it writes (`-o`, or the output resumed), so what derives from it (the command kernel's
  // default work folder) follows the file.
  std::string path;
};

// One entry of `attributes:`: CF text attributes of a variable of the output file.
struct AttributesSpec {
  std::string name;  // a parameter, an output, `sample` or `replicate` (checked with the kernel,
                     // driver/binding.h)
  std::vector<std::pair<std::string, std::string>> values;  // units, long_name, ...: as written
  SourceLocation where;                                     // of the name's key
};

// A path of the config that names environment variables (`${TMPDIR}/sweep`), kept as written
// (a relative one joined to the config's folder, but the program's) to be expanded where it is
// used, on the node that uses it (ExpandPaths). `key` is its key path: "output.path",
// "kernel.workdir.root", "inputs.<name>.npy" (hdf5, raw), "kernel.python" (its file),
// "kernel.plugin", "kernel.command[0]" (the program; never an argument: the program gets those
// as written, with no shell) and "kernel.files.<name>" (a template's path).
struct PathTemplate {
  std::string key;
  std::string text;
  SourceLocation where;
};

struct Config {
  std::string file;    // the config's path as given
  std::string folder;  // absolute: the folder relative paths were resolved against (file's)
  std::string text;    // the YAML text after overrides: what an output file stores
  std::string name;    // letters, digits, `_`, `-`, `.` (not first): it names the default output;
                       // without `name:`, the config file's stem (lorenz.yaml: lorenz)
  uint64_t seed = 0;
  KernelSpec kernel;
  std::vector<InputSpec> inputs;
  std::vector<AxisSpec> parameters;           // in file order
  std::vector<std::vector<std::string>> zip;  // groups of parameter names
  std::vector<SourceLocation> zip_where;      // of each group
  int64_t repeat = 1;
  SamplingSpec sampling;
  ExecutionSpec execution;
  OutputSpec output;
  std::vector<AttributesSpec> attributes;  // in file order
  // What a user should know that is not an error (a `values:` list that is not sorted): `validate`
  // prints them. Not carried to workers.
  std::vector<Diagnostic> notes;
  // The paths that name environment variables. Until ExpandPaths() sets them, their fields hold
  // the template text.
  std::vector<PathTemplate> path_templates;

  const AxisSpec* FindParameter(const std::string& name) const;
};

// Which paths a caller uses, for ExpandPaths: a run uses them all; a resume, or an MPI rank
// other than 0, all but the output (it is the file given, or rank 0's). The kernel's paths are
// its files: the Python model, the plugin, the program and the `files:` templates.
enum PathUse : unsigned {
  kOutputPath = 1,
  kInputPaths = 2,
  kWorkdirPath = 4,
  kKernelPaths = 8,
  kNodePaths = kInputPaths | kWorkdirPath | kKernelPaths,
  kAllPaths = kOutputPath | kNodePaths
};

// Sets each path of `use` that names environment variables from this process's environment
// (`${NAME}`: a letter or `_`, then letters, digits, `_`), each value taken as it is (no second
// expansion, no splitting at spaces); a result that is relative is taken against the config's
// folder, but the program's (a bare name is looked up in PATH) and the result is normalised
// lexically (`a/../b` is `b`). THROWS: ConfigError with, for each variable that is not set or is
// empty (`${TMPDIR}/sweep` would be `/sweep`), the path's file:line:col and key and the variable's
// name (exit code 2).
void ExpandPaths(Config* config, unsigned use);
// The templated paths' current values by key, as ExpandPaths set them.
std::map<std::string, std::string> ExpandedPaths(const Config& config);
// Sets each templated path of `use` back to its template's text, as ExpandPaths found it: what
// two configs say compared whatever the environments they were expanded in (`--reuse`).
void UnexpandPaths(Config* config, unsigned use);
// Forgets the template of `key` (its field was set from elsewhere: `-o`, `--input`).
void DropPathTemplate(Config* config, const std::string& key);

// The keys the reader accepts in one map of a config. `map` is the map's key path: "" for the top
// level, with `<name>` standing for a name the user chooses ("inputs.<name>" holds `npy`, `dtype`,
// ...). The maps of free names (kernel.options, kernel.outputs, inputs, parameters) have no table.
// Every key of every table is documented in configs/README.md, and tests/config_test.cc fails for
// one that is not: a key added here must be documented there.
struct ConfigKeys {
  // Not an aggregate, so a braced list of keys alone is refused where a table is expected.
  ConfigKeys(std::string map_path, std::vector<std::string> key_names);
  std::string map;
  std::vector<std::string> keys;
};

// Whether `s` is a name a user may choose (of a parameter, an input, an output): letters, digits
// and `_`, not starting with a digit, as a Python identifier in ASCII. Inline: the worker checks
// a plugin's names with it and links nothing of the YAML reader (config.cc).
inline bool IsIdentifier(const std::string& s) {
  const auto letter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (s.empty() || !letter(s[0])) return false;
  for (char c : s)
    if (!letter(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

// Every table of accepted keys, the top level first.
const std::vector<ConfigKeys>& KnownConfigKeys();

// The largest config file LoadConfig() reads: far above any real sweep's, far below what would
// take a parser minutes and gigabytes.
inline constexpr uint64_t kMaxConfigBytes = uint64_t{16} << 20;

// Reads and checks a config file. overrides are "key.path=value" strings (from --set).
// THROWS: ConfigError with every problem found (exit code 2); for a file that cannot be read, is
// not a regular file (a directory, /dev/zero, a pipe) or is over kMaxConfigBytes, one diagnostic
// without location: "cannot read <path>: <strerror>", "<path>: is a directory, ...".

Config LoadConfig(const std::string& path, const std::vector<std::string>& overrides = {});

// The same from text already in memory (an output file's stored config, or a test's).
// `file` is only used to name the source in diagnostics and to resolve relative paths.
Config ParseConfig(const std::string& text, const std::string& file,
                   const std::vector<std::string>& overrides = {});

// "90s", "5m", "1h", "250ms", "1.5h", or a bare number of seconds. Returns nullopt if malformed.
// Units: ms, s, m (or min), h, d; a space may stand between number and unit; no sign.
std::optional<double> ParseDuration(const std::string& text);
// "512MiB", "4GiB", "1.5GB", "1000", "64KiB". Returns nullopt if malformed or beyond 2^64-1.
// Units: B; kB (or KB), MB, GB, TB = powers of 1000; KiB, MiB, GiB, TiB = powers of 1024.
// Fractions round to the nearest byte.
std::optional<uint64_t> ParseSize(const std::string& text);

}  // namespace sweep
