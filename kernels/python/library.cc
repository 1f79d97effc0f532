// libsweep_python.so: the Python kernel's interpreter side (kernels/python/library.h).
//
// The per-point path is plain C API: the keyword names are one tuple made at init(), the values
// that do not change between points (inputs, state, options) are made once, and each call is one
// vectorcall with the point's parameters and seed, its scalar results read without numpy. What
// happens once per process, per block or per failure goes through pybind11 and the helpers
// written in Python (kernels/python/helpers.cc).
#include <pybind11/embed.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/python/helpers.h"
#include "kernels/python/library.h"

#ifndef SWEEP_PYTHON_EXECUTABLE
#define SWEEP_PYTHON_EXECUTABLE ""
#endif

namespace py = pybind11;

namespace sweep::python {
namespace {

constexpr uint64_t kNoPoint = std::numeric_limits<uint64_t>::max();

// numpy's name and the size of each sweep_dtype (kernels/kernel.h), by its value.
struct DtypeInfo {
  const char* name;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {{"", 0},      {"float64", 8}, {"float32", 4},
                                 {"int64", 8}, {"int32", 4},   {"uint8", 1}};

const DtypeInfo& Dtype(int dtype) {
  return dtype > 0 && dtype <= SWEEP_UINT8 ? kDtypes[dtype] : kDtypes[0];
}

int Fail(char* err, size_t err_size, const std::string& message) {
  return sweep_fail(err, err_size, message.c_str());
}

// The reason, then as much of the end of `details` as err_size leaves room for, from a line start
// (kernels/python/library.h).
int FailWithDetails(char* err, size_t err_size, const std::string& reason,
                    const std::string& details) {
  std::string text = reason.substr(0, err_size > 64 ? err_size - 64 : 0);
  const size_t room = err_size - 1 > text.size() + 1 ? err_size - 2 - text.size() : 0;
  if (!details.empty() && room > 16) {
    std::string tail = details;
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    if (tail.size() > room) {
      size_t from = tail.size() - (room - 4);
      const size_t line = tail.find('\n', from);
      if (line != std::string::npos && line + 1 < tail.size()) from = line + 1;
      tail = "...\n" + tail.substr(from);
    }
    text += "\n" + tail;
  }
  return Fail(err, err_size, text);
}

// The exception's text, on one line (pybind11's what() adds the frames on lines of their own).
std::string Message(const py::error_already_set& e) {
  try {
    std::string text =
        std::string(py::str(e.type().attr("__name__"))) + ": " + std::string(py::str(e.value()));
    std::replace(text.begin(), text.end(), '\n', ' ');
    return text;
  } catch (const py::error_already_set&) {
    return "an exception without a text";
  }
}

// The helpers module, made once per process and kept to its end (never finalised).
py::object& Helpers() {
  static py::object* helpers = [] {
    py::module_ module = py::module_::import("types").attr("ModuleType")("_sweep_kernel");
    py::exec(kHelpersSource, module.attr("__dict__"));
    py::module_::import("sys").attr("modules")["_sweep_kernel"] = module;
    return new py::object(module);
  }();
  return *helpers;
}

// Starts this process's interpreter, once. Returns what went wrong, or "".
std::string StartInterpreter(const char* model_path) {
  if (Py_IsInitialized()) return "";
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  // No handler for SIGINT: Ctrl-C reaches the driver, which stops the workers; a worker that is
  // sent SIGINT dies of it rather than raising KeyboardInterrupt in code that may catch it.
  config.install_signal_handlers = 0;
  // print() reaches the worker's log at once, not when a killed worker's buffer is lost.
  config.buffered_stdio = 0;
  config.parse_argv = 0;
  // sys.executable is the Python sweep was built with (so multiprocessing or subprocess in the
  // model start that Python, not a sweep worker), and its prefix is found from it, whatever the
  // PATH holds.
  if (SWEEP_PYTHON_EXECUTABLE[0] != '\0' && access(SWEEP_PYTHON_EXECUTABLE, X_OK) == 0)
    PyConfig_SetBytesString(&config, &config.executable, SWEEP_PYTHON_EXECUTABLE);
  const char* argv[] = {model_path};
  try {
    py::initialize_interpreter(&config, 1, argv, false);
  } catch (const std::exception& e) {
    return std::string("cannot start Python: ") + e.what();
  }
  return "";
}

struct Output {
  std::string name;
  int dtype = 0;
  int rank = 0;
  std::vector<int64_t> shape;
  size_t row_bytes = 0;
  py::str key;  // `name`, for dict lookups
};

// One init()ed kernel: the model, its function, and the call prepared.
struct Model {
  std::string function_name;
  bool batch = false;
  std::vector<std::string> param_names;
  std::vector<Output> outputs;
  py::list output_names;
  py::object helpers;
  py::object function;
  py::list folders;  // the model's and the config's, for the user's frames of a traceback
  py::dict inputs;   // name -> read-only numpy array over the mapped input
  py::object state = py::none();
  py::dict options;  // name -> value
  // The per-point call: keywords in this order, the parameters call_params (indices into
  // param_names), then `seed` if call_seed, then `fixed` (inputs, state, options), named kwnames.
  std::vector<int> call_params;
  bool call_seed = false;
  std::vector<py::object> fixed;
  py::tuple kwnames;
  // The batch call: which keywords, and whether it takes `out`.
  std::vector<std::string> call_names;
  bool call_out = false;
  uint64_t point = kNoPoint;
};

// A Python value of a parameter or option.
PyObject* ToPython(const sweep_value& v) {
  switch (v.type) {
    case SWEEP_VALUE_INTEGER:
      return PyLong_FromLongLong(v.integer);
    case SWEEP_VALUE_STRING:
      return PyUnicode_FromString(v.string ? v.string : "");
    default:
      return PyFloat_FromDouble(v.number);
  }
}

// An option: YAML's true and false arrive as strings, and are Python's booleans.
py::object OptionValue(const sweep_value& v) {
  if (v.type == SWEEP_VALUE_STRING && v.string) {
    const std::string s = v.string;
    if (s == "true" || s == "True" || s == "TRUE") return py::bool_(true);
    if (s == "false" || s == "False" || s == "FALSE") return py::bool_(false);
  }
  return py::reinterpret_steal<py::object>(ToPython(v));
}

py::tuple ShapeTuple(int64_t leading, const std::vector<int64_t>& shape, bool with_leading) {
  py::tuple t(shape.size() + (with_leading ? 1 : 0));
  size_t i = 0;
  if (with_leading) t[i++] = py::int_(leading);
  for (int64_t d : shape) t[i++] = py::int_(d);
  return t;
}

py::object View(const void* data, size_t bytes, bool writable) {
  return py::reinterpret_steal<py::object>(
      PyMemoryView_FromMemory(static_cast<char*>(const_cast<void*>(data)), Py_ssize_t(bytes),
                              writable ? PyBUF_WRITE : PyBUF_READ));
}

// A numpy array over `data` (no copy): read-only, or writable for outputs.
py::object Array(const Model& m, const void* data, int dtype, int64_t leading,
                 const std::vector<int64_t>& shape, bool with_leading, bool writable) {
  size_t bytes = Dtype(dtype).size * size_t(with_leading ? leading : 1);
  for (int64_t d : shape) bytes *= size_t(d);
  return m.helpers.attr(writable ? "writable_array" : "readonly_array")(
      View(data, bytes, writable), Dtype(dtype).name, ShapeTuple(leading, shape, with_leading));
}

// The one-line reason and the traceback of the Python exception `e`.
// The exception an error_already_set holds, with its traceback attached (it is kept apart from
// the exception as long as the error is only fetched).
py::object Caught(const py::error_already_set& e) {
  const py::object value = e.value();
  if (e.trace() && !e.trace().is_none() && PyExceptionInstance_Check(value.ptr()))
    PyException_SetTraceback(value.ptr(), e.trace().ptr());
  return value;
}

std::pair<std::string, std::string> Describe(const Model& m, const py::object& exception) {
  if (!m.helpers) return {py::str(exception).cast<std::string>(), ""};
  try {
    const py::tuple d = m.helpers.attr("describe")(exception, m.folders);
    return {d[0].cast<std::string>(), d[1].cast<std::string>()};
  } catch (const py::error_already_set& e) {
    return {"an exception that could not be described: " + Message(e), ""};
  }
}

std::string PointText(const Model& m, const py::list& values) {
  try {
    py::list names;
    for (const std::string& n : m.param_names) names.append(n);
    return m.helpers.attr("point_text")(names, values).cast<std::string>();
  } catch (const py::error_already_set&) {
    return "?";
  }
}

// Reports the point's failure: the whole traceback to the worker's log, the reason and the
// traceback's end into err.
int PointFailed(const std::string& where, const std::string& reason, const std::string& traceback,
                char* err, size_t err_size) {
  std::fprintf(stderr, "sweep worker: %s failed: %s\n%s", where.c_str(), reason.c_str(),
               traceback.c_str());
  std::fflush(stderr);
  return FailWithDetails(err, err_size, reason, traceback);
}

std::string PointWhere(const Model& m, const py::list& values) {
  const std::string params = PointText(m, values);
  return (m.point == kNoPoint ? std::string("a point") : "point " + std::to_string(m.point)) +
         (params.empty() ? "" : " (" + params + ")");
}

std::string OutputName(const Output& o) { return "output `" + o.name + "`"; }

// A Python number as a double: the common cases (a float, an int below 2^53) without a call.
// Returns false, with a Python error set, when it is not one.
bool AsDouble(PyObject* v, double* d) {
  if (PyFloat_CheckExact(v)) {
    *d = PyFloat_AS_DOUBLE(v);
    return true;
  }
  if (PyLong_CheckExact(v)) {
    int overflow = 0;
    const long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (!overflow && n > -(1LL << 53) && n < (1LL << 53)) {
      *d = double(n);
      return true;
    }
  }
  *d = PyFloat_AsDouble(v);
  return !(*d == -1.0 && PyErr_Occurred());
}

// Stores a scalar result into its row. Returns what is wrong, or "".
std::string StoreScalar(PyObject* v, const Output& o, void* row) {
  if (o.dtype == SWEEP_FLOAT64 || o.dtype == SWEEP_FLOAT32) {
    double d;
    if (v == Py_None) {
      d = std::numeric_limits<double>::quiet_NaN();  // missing, as a command's null
    } else if (!PyFloat_CheckExact(v) && !PyLong_CheckExact(v) &&
               (PyUnicode_Check(v) || PyBytes_Check(v) || !PyNumber_Check(v))) {
      return OutputName(o) + ": expected a number, got " + Py_TYPE(v)->tp_name;
    } else if (!AsDouble(v, &d)) {
      const py::error_already_set e;
      return OutputName(o) + ": expected a number, got " + Py_TYPE(v)->tp_name + " (" + Message(e) +
             ")";
    }
    if (o.dtype == SWEEP_FLOAT64) {
      std::memcpy(row, &d, sizeof d);
    } else {
      const float f = float(d);
      std::memcpy(row, &f, sizeof f);
    }
    return "";
  }
  if (!PyIndex_Check(v) || PyFloat_Check(v)) {
    return OutputName(o) + " is " + Dtype(o.dtype).name + ": expected an integer, got " +
           Py_TYPE(v)->tp_name;
  }
  const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(v));
  int overflow = 0;
  const long long n = index ? PyLong_AsLongLongAndOverflow(index.ptr(), &overflow) : 0;
  if (!index) {
    const py::error_already_set e;
    return OutputName(o) + ": " + Message(e);
  }
  long long low = std::numeric_limits<int64_t>::min(), high = std::numeric_limits<int64_t>::max();
  if (o.dtype == SWEEP_INT32) low = INT32_MIN, high = INT32_MAX;
  if (o.dtype == SWEEP_UINT8) low = 0, high = 255;
  if (overflow || n < low || n > high)
    return OutputName(o) + " is " + Dtype(o.dtype).name + ": " + py::str(v).cast<std::string>() +
           " is out of its range";
  if (o.dtype == SWEEP_INT64) {
    const int64_t x = n;
    std::memcpy(row, &x, sizeof x);
  } else if (o.dtype == SWEEP_INT32) {
    const int32_t x = int32_t(n);
    std::memcpy(row, &x, sizeof x);
  } else {
    const uint8_t x = uint8_t(n);
    std::memcpy(row, &x, sizeof x);
  }
  return "";
}

// Stores what the per-point call returned into the point's rows. Returns what is wrong, or "".
// THROWS: py::error_already_set from the helpers (an OutputError, described as such).
std::string StoreResult(const Model& m, PyObject* result, sweep_array* rows) {
  const size_t n = m.outputs.size();
  // The common shapes, read without numpy: a dict of exactly the outputs, one scalar, a tuple.
  std::vector<PyObject*> values(n, nullptr);
  if (PyDict_Check(result) && size_t(PyDict_Size(result)) == n) {
    for (size_t i = 0; i < n; ++i) values[i] = PyDict_GetItem(result, m.outputs[i].key.ptr());
  } else if (n == 1 && !PyDict_Check(result) &&
             !(PyTuple_Check(result) && m.outputs[0].rank == 0)) {
    values[0] = result;
  } else if (n == 1 && PyTuple_Check(result) && PyTuple_GET_SIZE(result) == 1) {
    values[0] = PyTuple_GET_ITEM(result, 0);
  } else if (PyTuple_Check(result) && size_t(PyTuple_GET_SIZE(result)) == n) {
    for (size_t i = 0; i < n; ++i) values[i] = PyTuple_GET_ITEM(result, Py_ssize_t(i));
  }
  bool regular = true;
  for (PyObject* v : values) regular = regular && v;
  for (size_t i = 0; regular && i < n; ++i) {
    const Output& o = m.outputs[i];
    if (o.rank == 0) {
      const std::string problem = StoreScalar(values[i], o, rows[i].data);
      if (!problem.empty()) return problem;
    } else {
      m.helpers.attr("store")(py::handle(values[i]),
                              Array(m, rows[i].data, o.dtype, 1, o.shape, false, true), o.key);
    }
  }
  if (regular) return "";
  // Anything else: the helper stores it or says precisely what is wrong.
  py::dict outs;
  for (size_t i = 0; i < n; ++i) {
    const Output& o = m.outputs[i];
    outs[o.key] = Array(m, rows[i].data, o.dtype, 1, o.shape, false, true);
  }
  m.helpers.attr("store_all")(py::handle(result), outs, m.output_names);
  return "";
}

bool HoldsTheInterpreter(char* err, size_t err_size) {
  if (PyGILState_Check()) return true;
  Fail(err, err_size, "python kernel: called from a thread other than the one that initialised it");
  return false;
}

int ComputeBatch(void* state, const sweep_batch* batch, sweep_array* outputs, int64_t* failed,
                 char* err, size_t err_size);

int Compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs, char* err,
            size_t err_size) {
  Model& m = *static_cast<Model*>(state);
  if (m.batch) {
    // A block of one point (kernels/kernel.h: both entries give the same bytes).
    std::vector<sweep_column> columns(m.param_names.size());
    for (size_t j = 0; j < columns.size(); ++j) {
      columns[j].type = params[j].type;
      if (params[j].type == SWEEP_VALUE_STRING) {
        columns[j].string = &params[j].string;
      } else {
        columns[j].number = &params[j].number;
        if (params[j].type == SWEEP_VALUE_INTEGER) columns[j].integer = &params[j].integer;
      }
    }
    const sweep_batch one{1, columns.data(), &seed};
    int64_t at = 0;
    return ComputeBatch(state, &one, outputs, &at, err, err_size);
  }
  if (!HoldsTheInterpreter(err, err_size)) return 1;
  const size_t n_params = m.call_params.size() + (m.call_seed ? 1 : 0);
  PyObject* args[64];
  std::vector<PyObject*> many;
  PyObject** slots = args;
  const size_t total = 1 + n_params + m.fixed.size();
  if (total > 64) {
    many.resize(total);
    slots = many.data();
  }
  size_t k = 1;  // slots[0] is free for the callee (PY_VECTORCALL_ARGUMENTS_OFFSET)
  bool made = true;
  for (int j : m.call_params) made = (slots[k++] = ToPython(params[j])) && made;
  if (m.call_seed) made = (slots[k++] = PyLong_FromUnsignedLongLong(seed)) && made;
  for (const py::object& f : m.fixed) slots[k++] = f.ptr();
  PyObject* result = made ? PyObject_Vectorcall(m.function.ptr(), slots + 1,
                                                PY_VECTORCALL_ARGUMENTS_OFFSET, m.kwnames.ptr())
                          : nullptr;
  for (size_t i = 1; i <= n_params; ++i) Py_XDECREF(slots[i]);

  const auto where = [&] {
    py::list values;
    for (size_t j = 0; j < m.param_names.size(); ++j)
      values.append(py::reinterpret_steal<py::object>(ToPython(params[j])));
    return PointWhere(m, values);
  };
  if (!result) {
    const py::error_already_set e;
    const auto [reason, traceback] = Describe(m, Caught(e));
    return PointFailed(where(), reason, traceback, err, err_size);
  }
  const py::object owned = py::reinterpret_steal<py::object>(result);
  try {
    const std::string problem = StoreResult(m, result, outputs);
    if (!problem.empty()) return PointFailed(where(), problem, "", err, err_size);
  } catch (const py::error_already_set& e) {
    const auto [reason, traceback] = Describe(m, Caught(e));
    return PointFailed(where(), reason, traceback, err, err_size);
  }
  return 0;
}

// A column of parameter values as a numpy array over sweep's memory (strings: an array of str).
py::object Column(const Model& m, const sweep_column& c, int64_t n) {
  if (c.type == SWEEP_VALUE_STRING) {
    py::list values;
    for (int64_t i = 0; i < n; ++i) values.append(py::str(c.string[i] ? c.string[i] : ""));
    return m.helpers.attr("string_column")(values);
  }
  if (c.type == SWEEP_VALUE_INTEGER) return Array(m, c.integer, SWEEP_INT64, n, {}, true, false);
  return Array(m, c.number, SWEEP_FLOAT64, n, {}, true, false);
}

int ComputeBatch(void* state, const sweep_batch* batch, sweep_array* outputs, int64_t* failed,
                 char* err, size_t err_size) {
  Model& m = *static_cast<Model*>(state);
  if (!HoldsTheInterpreter(err, err_size)) return 1;
  const int64_t n = batch->count;
  try {
    py::dict kwargs;
    py::list columns;
    for (int j : m.call_params) {
      kwargs[py::str(m.param_names[size_t(j)])] = Column(m, batch->params[j], n);
      columns.append(m.param_names[size_t(j)]);
    }
    if (m.call_seed) {
      kwargs["seed"] = m.helpers.attr("readonly_array")(View(batch->seeds, size_t(n) * 8, false),
                                                        "uint64", py::make_tuple(n));
      columns.append("seed");
    }
    for (size_t i = 0; i < m.call_names.size(); ++i) {
      const std::string& name = m.call_names[i];
      if (name == "inputs") kwargs["inputs"] = m.inputs;
      if (name == "state") kwargs["state"] = m.state;
      if (m.options.contains(name)) kwargs[py::str(name)] = m.options[py::str(name)];
    }
    py::dict outs;
    for (size_t i = 0; i < m.outputs.size(); ++i) {
      const Output& o = m.outputs[i];
      outs[o.key] = Array(m, outputs[i].data, o.dtype, n, o.shape, true, true);
    }
    if (m.call_out) kwargs["out"] = outs;
    try {
      m.helpers.attr("call_batch")(m.function, kwargs, outs, m.output_names, columns);
      return 0;
    } catch (const py::error_already_set& e) {
      const auto [batch_reason, batch_traceback] = Describe(m, Caught(e));
      if (n == 1) {
        *failed = 0;
        py::list values;
        for (size_t j = 0; j < m.param_names.size(); ++j)
          values.append(Column(m, batch->params[j], 1)[py::int_(0)].attr("item")());
        return PointFailed(PointWhere(m, values), batch_reason, batch_traceback, err, err_size);
      }
      std::fprintf(stderr,
                   "sweep worker: a block of %lld points failed (%s); calling its points one by "
                   "one to find which\n",
                   static_cast<long long>(n), batch_reason.c_str());
      const py::object found =
          m.helpers.attr("narrow")(m.function, kwargs, outs, m.output_names, columns, n);
      if (found.is_none()) {
        *failed = 0;
        return PointFailed("a block of " + std::to_string(n) + " points",
                           batch_reason + " (the block of " + std::to_string(n) +
                               " points raised it; none of its points alone did)",
                           batch_traceback, err, err_size);
      }
      const py::tuple pair = found;
      const int64_t i = pair[0].cast<int64_t>();
      *failed = i;
      py::list values;
      for (size_t j = 0; j < m.param_names.size(); ++j)
        values.append(Column(m, batch->params[j], n)[py::int_(i)].attr("item")());
      const auto [reason, traceback] = Describe(m, pair[1]);
      return PointFailed(
          "point " + std::to_string(i) + " of a block (" + PointText(m, values) + ")", reason,
          traceback, err, err_size);
    }
  } catch (const py::error_already_set& e) {
    *failed = 0;
    return Fail(err, err_size, "python kernel: " + Message(e));
  }
}

// ---- init ----

std::string Realpath(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) ? std::string(resolved) : path;
}

std::string Folder(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

void MakeModel(Model& m, const sweep_python_spec& spec, const sweep_options& options,
               const sweep_array* inputs) {
  m.helpers = Helpers();
  const std::string model_dir = Realpath(Folder(spec.model_path));
  const std::string config_dir = Realpath(spec.config_dir);
  m.folders.append(model_dir);
  if (config_dir != model_dir) m.folders.append(config_dir);
  const py::object warning = m.helpers.attr("prepare_path")(m.folders);
  if (!warning.is_none())
    std::fprintf(stderr, "sweep worker: warning: %s\n", warning.cast<std::string>().c_str());
  const py::object module = m.helpers.attr("load_model")(spec.model_path);
  const std::string path = spec.model_path;
  const std::string file = path.substr(path.rfind('/') + 1);
  if (!py::hasattr(module, spec.function)) {
    throw std::runtime_error(file + " defines no `" + spec.function + "`" +
                             (std::string(spec.function) == "compute"
                                  ? " (name the function: `python: " + file + ":simulate`)"
                                  : ""));
  }
  m.function = module.attr(spec.function);
  if (!PyCallable_Check(m.function.ptr()))
    throw std::runtime_error(file + ": `" + spec.function + "` is not a function");

  for (int i = 0; i < options.count && i < spec.n_options; ++i)
    m.options[py::str(spec.option_names[i])] = OptionValue(options.values[i]);
  for (int i = 0; i < spec.n_inputs; ++i) {
    const sweep_array& a = inputs[i];
    m.inputs[py::str(spec.input_names[i])] =
        Array(m, a.data, a.dtype, 0, std::vector<int64_t>(a.shape, a.shape + a.rank), false, false);
  }
  // setup(inputs, **options), if the model has one: its result is every call's `state`.
  if (py::hasattr(module, "setup") && PyCallable_Check(module.attr("setup").ptr())) {
    const py::object setup = module.attr("setup");
    py::list available;
    available.append("inputs");
    for (int i = 0; i < spec.n_options; ++i) available.append(spec.option_names[i]);
    py::dict kwargs;
    for (const py::handle name : m.helpers.attr("call_keywords")(setup, available, "setup")) {
      if (name.cast<std::string>() == "inputs") {
        kwargs["inputs"] = m.inputs;
      } else {
        kwargs[name] = m.options[name];
      }
    }
    m.state = setup(**kwargs);
  }

  py::list available;
  for (int j = 0; j < spec.n_params; ++j) available.append(spec.param_names[j]);
  available.append("seed");
  available.append("inputs");
  available.append("state");
  for (int i = 0; i < spec.n_options; ++i) available.append(spec.option_names[i]);
  if (m.batch) available.append("out");
  const py::list taken = m.helpers.attr("call_keywords")(m.function, available, spec.function);
  std::vector<std::string> names;
  for (const py::handle name : taken) names.push_back(name.cast<std::string>());
  const auto takes = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  std::vector<std::string> kwnames;
  for (int j = 0; j < spec.n_params; ++j) {
    if (!takes(spec.param_names[j])) continue;
    m.call_params.push_back(j);
    kwnames.push_back(spec.param_names[j]);
  }
  m.call_seed = takes("seed");
  if (m.call_seed) kwnames.push_back("seed");
  for (const char* fixed : {"inputs", "state"}) {
    if (!takes(fixed)) continue;
    kwnames.push_back(fixed);
    m.fixed.push_back(std::string(fixed) == "inputs" ? py::object(m.inputs) : m.state);
    m.call_names.push_back(fixed);
  }
  for (int i = 0; i < spec.n_options; ++i) {
    if (!takes(spec.option_names[i])) continue;
    kwnames.push_back(spec.option_names[i]);
    m.fixed.push_back(m.options[py::str(spec.option_names[i])]);
    m.call_names.push_back(spec.option_names[i]);
  }
  m.call_out = takes("out");
  py::tuple t(kwnames.size());
  for (size_t i = 0; i < kwnames.size(); ++i) {
    py::str name(kwnames[i]);
    PyUnicode_InternInPlace(&name.ptr());
    t[i] = name;
  }
  m.kwnames = t;
}

int Init(void** state, const sweep_python_spec* spec, const sweep_options* options,
         const sweep_array* inputs, char* err, size_t err_size) {
  const std::string started = StartInterpreter(spec->model_path);
  if (!started.empty()) return Fail(err, err_size, started);
  if (!HoldsTheInterpreter(err, err_size)) return 1;
  auto m = std::make_unique<Model>();
  m->function_name = spec->function;
  m->batch = spec->batch != 0;
  for (int j = 0; j < spec->n_params; ++j) m->param_names.push_back(spec->param_names[j]);
  for (int i = 0; i < spec->n_outputs; ++i) {
    const sweep_output_decl& d = spec->outputs[i];
    Output o;
    o.name = d.name;
    o.dtype = d.dtype;
    o.rank = d.rank;
    o.shape.assign(d.shape, d.shape + d.rank);
    o.row_bytes = Dtype(d.dtype).size;
    for (int64_t s : o.shape) o.row_bytes *= size_t(s);
    o.key = py::str(o.name);
    m->output_names.append(o.key);
    m->outputs.push_back(std::move(o));
  }
  try {
    // A crash in an extension prints its Python stack to the worker's log before the worker
    // dies of it, as it would have without.
    py::module_::import("faulthandler").attr("enable")();
    MakeModel(*m, *spec, *options, inputs);
  } catch (const py::error_already_set& e) {
    const auto [reason, traceback] = Describe(*m, Caught(e));
    std::fprintf(stderr, "sweep worker: the Python kernel's init failed: %s\n%s", reason.c_str(),
                 traceback.c_str());
    std::fflush(stderr);
    return Fail(err, err_size, reason);
  } catch (const std::exception& e) {
    return Fail(err, err_size, e.what());
  }
  *state = m.release();
  return 0;
}

void SetPoint(void* state, uint64_t point) { static_cast<Model*>(state)->point = point; }

int TakesSeed(void* state) { return static_cast<Model*>(state)->call_seed ? 1 : 0; }

void Finish(void* state) {
  auto* m = static_cast<Model*>(state);
  if (!m) return;
  if (!PyGILState_Check()) {
    // Another thread holds the interpreter: its objects cannot be released here. Left to the
    // process's end rather than released without the interpreter.
    return;
  }
  delete m;
}

void BeforeFork() { PyOS_BeforeFork(); }
void AfterForkInParent() { PyOS_AfterFork_Parent(); }
void AfterForkInChild() { PyOS_AfterFork_Child(); }

const sweep_python_library kLibrary = {
    SWEEP_PYTHON_LIBRARY_VERSION,
    PY_VERSION,
    Init,
    SetPoint,
    Compute,
    ComputeBatch,
    Finish,
    TakesSeed,
    BeforeFork,
    AfterForkInParent,
    AfterForkInChild,
};

}  // namespace
}  // namespace sweep::python

extern "C" __attribute__((visibility("default"))) const sweep_python_library* sweep_python_entry(
    void) {
  return &sweep::python::kLibrary;
}
