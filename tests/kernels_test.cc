// Tests of the built-in kernels, called through their sweep_kernel tables exactly as a worker
// calls them: options built from the declared defaults plus overrides, outputs() to size the
// output rows (pre-filled with NaN), init() once, compute() per point, finish() at the end.
//
// KernelReference runs the cases of tests/data/kernels/<kernel>.yaml, whose numbers come from
// independent NumPy implementations (tests/data/kernels/references.py); the other suites check
// closed forms, brute force and physics in C++.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kernels/kernel.h"
#include "kernels/registry.h"

namespace sweep {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A dense float64 array the test owns, C order.
struct Array {
  std::vector<int64_t> shape;
  std::vector<double> data;
};

struct Output {
  std::vector<int64_t> shape;
  std::vector<double> values;
  double scalar() const {
    EXPECT_TRUE(shape.empty()) << "not a scalar output";
    return values.at(0);
  }
};
using Outputs = std::map<std::string, Output>;
using Params = std::map<std::string, double>;

// Written past the end of every output row and into the error buffer, to catch overruns.
constexpr double kGuard = -1.2345e300;
constexpr size_t kErrSize = 256;

// One worker's life with one kernel. Options are given as text, as YAML gives them, and parsed by
// the declared type.
class KernelRun {
 public:
  KernelRun(const std::string& name, const std::map<std::string, std::string>& options = {},
            const std::map<std::string, Array>& inputs = {})
      : kernel_(FindBuiltinKernel(name)) {
    if (kernel_ == nullptr) {
      start_error_ = "no built-in kernel " + name;
      ADD_FAILURE() << start_error_;
      return;
    }
    BuildOptions(options);
    if (!start_error_.empty()) return;
    BuildInputs(inputs);
    if (!start_error_.empty()) return;
    char err[kErrSize];
    decls_.resize(static_cast<size_t>(kernel_->max_outputs));
    int n_out = -1;
    sweep_options opts{values_.data(), static_cast<int>(values_.size())};
    if (kernel_->outputs(&opts, decls_.data(), &n_out, err, sizeof err) != 0) {
      start_error_ = Message(err);
      return;
    }
    EXPECT_GE(n_out, 1);
    EXPECT_LE(n_out, kernel_->max_outputs);
    decls_.resize(static_cast<size_t>(n_out));
    if (kernel_->init(&state_, &opts, arrays_.data(), err, sizeof err) != 0) {
      start_error_ = Message(err);
      return;
    }
    started_ = true;
  }
  ~KernelRun() {
    if (started_) kernel_->finish(state_);
  }
  KernelRun(const KernelRun&) = delete;
  KernelRun& operator=(const KernelRun&) = delete;

  // The message of outputs() or init() when either failed, else "".
  const std::string& start_error() const { return start_error_; }
  const std::vector<sweep_output_decl>& decls() const { return decls_; }

  // Returns 0 and fills *out, or the kernel's non-zero code with its message in *error.
  int TryCompute(const std::vector<sweep_value>& params, uint64_t seed, Outputs* out,
                 std::string* error) {
    if (!started_) {
      *error = "not started: " + start_error_;
      return -1;
    }
    std::vector<std::vector<double>> rows;
    std::vector<sweep_array> arrays;
    for (const sweep_output_decl& decl : decls_) {
      EXPECT_EQ(decl.dtype, SWEEP_FLOAT64) << decl.name;
      size_t count = 1;
      for (int d = 0; d < decl.rank; ++d) count *= static_cast<size_t>(decl.shape[d]);
      rows.emplace_back(count, std::numeric_limits<double>::quiet_NaN());
      rows.back().push_back(kGuard);
    }
    for (size_t i = 0; i < decls_.size(); ++i) {
      sweep_array a{rows[i].data(), SWEEP_FLOAT64, decls_[i].rank, {0, 0, 0, 0}};
      std::copy(decls_[i].shape, decls_[i].shape + SWEEP_MAX_RANK, a.shape);
      arrays.push_back(a);
    }
    char err[kErrSize];
    std::memset(err, 'x', sizeof err);
    const int rc = kernel_->compute(state_, params.data(), seed, arrays.data(), err, sizeof err);
    for (size_t i = 0; i < decls_.size(); ++i)
      EXPECT_EQ(rows[i].back(), kGuard) << "compute() wrote past output " << decls_[i].name;
    if (rc != 0) {
      *error = Message(err);
      return rc;
    }
    out->clear();
    for (size_t i = 0; i < decls_.size(); ++i) {
      rows[i].pop_back();
      (*out)[decls_[i].name] =
          Output{std::vector<int64_t>(decls_[i].shape, decls_[i].shape + decls_[i].rank), rows[i]};
    }
    return 0;
  }

  // The point's outputs; a failure of compute() fails the test.
  Outputs Compute(const Params& params, uint64_t seed = 1) {
    Outputs out;
    std::string error;
    if (TryCompute(Values(params), seed, &out, &error) != 0) ADD_FAILURE() << error;
    return out;
  }

  // The message of a compute() that must fail.
  std::string ComputeError(const Params& params, uint64_t seed = 1) {
    Outputs out;
    std::string error;
    if (TryCompute(Values(params), seed, &out, &error) == 0) ADD_FAILURE() << "compute() passed";
    return error;
  }

  std::vector<sweep_value> Values(const Params& params) const {
    std::vector<sweep_value> values;
    for (int i = 0; i < kernel_->n_params; ++i) {
      const auto it = params.find(kernel_->params[i].name);
      if (it == params.end()) {
        ADD_FAILURE() << "missing parameter " << kernel_->params[i].name;
        values.push_back({SWEEP_VALUE_NUMBER, 0, 0, nullptr});
      } else {
        values.push_back({SWEEP_VALUE_NUMBER, it->second, 0, nullptr});
      }
    }
    if (params.size() != values.size()) ADD_FAILURE() << "unknown parameter given";
    return values;
  }

 private:
  // The error buffer must hold a NUL-terminated line.
  static std::string Message(const char* err) {
    const void* nul = std::memchr(err, '\0', kErrSize);
    EXPECT_NE(nul, nullptr) << "error message not NUL-terminated";
    if (nul == nullptr) return "<unterminated>";
    std::string message(err);
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }

  void BuildOptions(const std::map<std::string, std::string>& given) {
    std::set<std::string> used;
    for (int i = 0; i < kernel_->n_options; ++i) {
      const sweep_option_decl& decl = kernel_->options[i];
      sweep_value value = decl.default_value;
      const auto it = given.find(decl.name);
      if (it != given.end()) {
        used.insert(it->first);
        const std::string& text = it->second;
        size_t end = 0;
        value.type = decl.type;
        if (decl.type == SWEEP_VALUE_STRING) {
          strings_.push_back(text);
        } else if (decl.type == SWEEP_VALUE_INTEGER) {
          value.integer = std::stoll(text, &end);
          value.number = static_cast<double>(value.integer);
        } else {
          value.number = std::stod(text, &end);
        }
        if (decl.type != SWEEP_VALUE_STRING && end != text.size())
          start_error_ = "option " + it->first + ": not a number: " + text;
      }
      values_.push_back(value);
    }
    // The strings are only stable once strings_ stops growing.
    size_t next = 0;
    for (int i = 0; i < kernel_->n_options; ++i) {
      if (kernel_->options[i].type == SWEEP_VALUE_STRING && given.count(kernel_->options[i].name))
        values_[static_cast<size_t>(i)].string = strings_[next++].c_str();
    }
    for (const auto& [key, text] : given) {
      if (!used.count(key)) {
        start_error_ = "unknown option " + key;
        ADD_FAILURE() << start_error_;
      }
    }
  }

  void BuildInputs(const std::map<std::string, Array>& given) {
    for (int i = 0; i < kernel_->n_inputs; ++i) {
      const auto it = given.find(kernel_->inputs[i].name);
      if (it == given.end()) {
        start_error_ = std::string("missing input ") + kernel_->inputs[i].name;
        ADD_FAILURE() << start_error_;
        return;
      }
      inputs_.push_back(it->second);
    }
    for (const Array& input : inputs_) {
      sweep_array a{const_cast<double*>(input.data.data()),
                    SWEEP_FLOAT64,
                    static_cast<int>(input.shape.size()),
                    {0, 0, 0, 0}};
      std::copy(input.shape.begin(), input.shape.end(), a.shape);
      arrays_.push_back(a);
    }
  }

  const sweep_kernel* kernel_;
  std::string start_error_;
  std::vector<sweep_value> values_;
  std::vector<std::string> strings_;
  std::vector<Array> inputs_;
  std::vector<sweep_array> arrays_;
  std::vector<sweep_output_decl> decls_;
  void* state_ = nullptr;
  bool started_ = false;
};

// Inputs every kernel accepts with its default options: 10 x 8 for rank 2, 10 for rank 1.
std::map<std::string, Array> DefaultInputs(const sweep_kernel& kernel) {
  std::map<std::string, Array> inputs;
  for (int i = 0; i < kernel.n_inputs; ++i) {
    Array a;
    a.shape = kernel.inputs[i].rank == 1 ? std::vector<int64_t>{10} : std::vector<int64_t>{10, 8};
    const int64_t count = kernel.inputs[i].rank == 1 ? 10 : 80;
    for (int64_t k = 0; k < count; ++k) a.data.push_back(std::sin(0.37 * k * k + 1.3 * i));
    inputs[kernel.inputs[i].name] = a;
  }
  return inputs;
}

Params OnesFor(const sweep_kernel& kernel) {
  Params params;
  for (int i = 0; i < kernel.n_params; ++i) params[kernel.params[i].name] = 1.0;
  return params;
}

// ---------------------------------------------------------------------------------------------
// Registry and ABI.

TEST(KernelRegistryTest, EveryKernelIsWellFormed) {
  const std::vector<const sweep_kernel*> kernels = BuiltinKernels();
  ASSERT_GE(kernels.size(), 7u);
  std::set<std::string> names;
  for (size_t k = 0; k < kernels.size(); ++k) {
    const sweep_kernel& kernel = *kernels[k];
    SCOPED_TRACE(kernel.name);
    EXPECT_EQ(kernel.abi_version, static_cast<uint32_t>(SWEEP_KERNEL_ABI));
    ASSERT_NE(kernel.name, nullptr);
    EXPECT_TRUE(names.insert(kernel.name).second) << "duplicate name";
    if (k > 0) {
      EXPECT_LT(std::strcmp(kernels[k - 1]->name, kernel.name), 0) << "not sorted";
    }
    EXPECT_EQ(FindBuiltinKernel(kernel.name), &kernel);
    EXPECT_NE(kernel.description, nullptr);
    EXPECT_TRUE(kernel.outputs && kernel.init && kernel.compute && kernel.finish);
    EXPECT_GE(kernel.n_params, 1);
    std::set<std::string> declared;
    for (int i = 0; i < kernel.n_params; ++i) {
      ASSERT_NE(kernel.params[i].name, nullptr);
      EXPECT_TRUE(declared.insert(kernel.params[i].name).second) << kernel.params[i].name;
    }
    for (int i = 0; i < kernel.n_options; ++i) {
      const sweep_option_decl& option = kernel.options[i];
      ASSERT_NE(option.name, nullptr);
      EXPECT_TRUE(declared.insert(option.name).second) << option.name;
      EXPECT_EQ(option.default_value.type, option.type) << option.name;
      if (option.type == SWEEP_VALUE_INTEGER) {
        EXPECT_EQ(option.default_value.number, static_cast<double>(option.default_value.integer));
      }
      if (option.type == SWEEP_VALUE_STRING) {
        EXPECT_NE(option.default_value.string, nullptr);
      }
    }
    for (int i = 0; i < kernel.n_inputs; ++i) {
      ASSERT_NE(kernel.inputs[i].name, nullptr);
      EXPECT_TRUE(declared.insert(kernel.inputs[i].name).second) << kernel.inputs[i].name;
    }
    EXPECT_GE(kernel.max_outputs, 1);

    KernelRun run(kernel.name, {}, DefaultInputs(kernel));
    ASSERT_EQ(run.start_error(), "");
    std::set<std::string> outputs;
    for (const sweep_output_decl& out : run.decls()) {
      ASSERT_NE(out.name, nullptr);
      EXPECT_TRUE(outputs.insert(out.name).second) << out.name;
      EXPECT_GE(out.rank, 0);
      EXPECT_LE(out.rank, SWEEP_MAX_RANK);
      for (int d = 0; d < out.rank; ++d) EXPECT_GE(out.shape[d], 1) << out.name;
    }
  }
  EXPECT_EQ(FindBuiltinKernel("no-such-kernel"), nullptr);
}

// Every output element is written, and the same (params, seed) gives the same bits, within one
// init() and across two.
TEST(KernelAbiTest, DefaultsFillEveryOutputDeterministically) {
  for (const sweep_kernel* kernel : BuiltinKernels()) {
    SCOPED_TRACE(kernel->name);
    const auto inputs = DefaultInputs(*kernel);
    KernelRun first(kernel->name, {}, inputs);
    KernelRun second(kernel->name, {}, inputs);
    ASSERT_EQ(first.start_error(), "");
    const Outputs a = first.Compute(OnesFor(*kernel), 99);
    const Outputs b = first.Compute(OnesFor(*kernel), 99);
    const Outputs c = second.Compute(OnesFor(*kernel), 99);
    ASSERT_EQ(a.size(), first.decls().size());
    for (const auto& [name, output] : a) {
      for (double v : output.values) EXPECT_FALSE(std::isnan(v)) << name;
      EXPECT_EQ(std::memcmp(output.values.data(), b.at(name).values.data(),
                            output.values.size() * sizeof(double)),
                0)
          << name;
      EXPECT_EQ(std::memcmp(output.values.data(), c.at(name).values.data(),
                            output.values.size() * sizeof(double)),
                0)
          << name;
    }
  }
}

TEST(KernelAbiTest, StringParametersAreRejectedWithTheirName) {
  for (const sweep_kernel* kernel : BuiltinKernels()) {
    SCOPED_TRACE(kernel->name);
    KernelRun run(kernel->name, {}, DefaultInputs(*kernel));
    ASSERT_EQ(run.start_error(), "");
    std::vector<sweep_value> params = run.Values(OnesFor(*kernel));
    const int last = kernel->n_params - 1;
    params[static_cast<size_t>(last)] = {SWEEP_VALUE_STRING, 0, 0, "abc"};
    Outputs out;
    std::string error;
    EXPECT_NE(run.TryCompute(params, 1, &out, &error), 0);
    EXPECT_NE(error.find(kernel->params[last].name), std::string::npos) << error;
    EXPECT_NE(error.find("abc"), std::string::npos) << error;
  }
}

TEST(KernelAbiTest, ErrorMessagesAreTruncatedToTheBuffer) {
  const sweep_kernel* heat = FindBuiltinKernel("heat2d");
  ASSERT_NE(heat, nullptr);
  std::vector<sweep_value> values;
  for (int i = 0; i < heat->n_options; ++i) values.push_back(heat->options[i].default_value);
  values[3].string = "sideways";  // boundary
  ASSERT_STREQ(heat->options[3].name, "boundary");
  sweep_options options{values.data(), static_cast<int>(values.size())};
  std::vector<sweep_output_decl> decls(static_cast<size_t>(heat->max_outputs));
  int n_out = 0;
  char err[12];
  std::memset(err, 'x', sizeof err);
  EXPECT_NE(heat->outputs(&options, decls.data(), &n_out, err, 8), 0);
  EXPECT_STREQ(err, "option ");
  EXPECT_EQ(err[8], 'x');
}

// ---------------------------------------------------------------------------------------------
// Reference cases from tests/data/kernels/<kernel>.yaml.

Array ArrayFromYaml(const YAML::Node& node) {
  Array a;
  YAML::Node level = node;
  while (level.IsSequence()) {
    a.shape.push_back(static_cast<int64_t>(level.size()));
    if (level.size() == 0) break;
    level.reset(level[0]);  // operator= would overwrite the node itself
  }
  std::function<void(const YAML::Node&, size_t)> flatten = [&](const YAML::Node& n, size_t depth) {
    if (depth == a.shape.size()) {
      a.data.push_back(n.as<double>());
      return;
    }
    EXPECT_EQ(static_cast<int64_t>(n.size()), a.shape[depth]) << "ragged array";
    for (const YAML::Node& child : n) flatten(child, depth + 1);
  };
  flatten(node, 0);
  return a;
}

class KernelReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KernelReferenceTest, MatchesTheDataFile) {
  const std::string path =
      std::string(SWEEP_SOURCE_DIR) + "/tests/data/kernels/" + GetParam() + ".yaml";
  YAML::Node file;
  ASSERT_NO_THROW(file = YAML::LoadFile(path)) << path;
  ASSERT_EQ(file["kernel"].as<std::string>(), GetParam());
  ASSERT_GE(file["cases"].size(), 1u);
  for (const YAML::Node& c : file["cases"]) {
    SCOPED_TRACE(GetParam() + ": " + c["name"].as<std::string>());
    std::map<std::string, std::string> options;
    for (const auto& kv : c["options"]) options[kv.first.as<std::string>()] = kv.second.Scalar();
    std::map<std::string, Array> inputs;
    for (const auto& kv : c["inputs"])
      inputs[kv.first.as<std::string>()] = ArrayFromYaml(kv.second);
    Params params;
    for (const auto& kv : c["params"]) params[kv.first.as<std::string>()] = kv.second.as<double>();
    const uint64_t seed = c["seed"] ? c["seed"].as<uint64_t>() : 1;

    KernelRun run(GetParam(), options, inputs);
    if (c["error"]) {
      const std::string expected = c["error"].as<std::string>();
      const std::string error =
          run.start_error().empty() ? run.ComputeError(params, seed) : run.start_error();
      EXPECT_NE(error.find(expected), std::string::npos) << error;
      continue;
    }
    ASSERT_EQ(run.start_error(), "");
    const Outputs out = run.Compute(params, seed);
    ASSERT_TRUE(c["expect"].IsMap());
    for (const auto& kv : c["expect"]) {
      const std::string name = kv.first.as<std::string>();
      ASSERT_TRUE(out.count(name)) << "no output " << name;
      const Output& got = out.at(name);
      const Array want = ArrayFromYaml(kv.second["value"]);
      const double tol = kv.second["tol"].as<double>();
      ASSERT_EQ(got.shape, want.shape) << name;
      for (size_t i = 0; i < want.data.size(); ++i)
        EXPECT_NEAR(got.values[i], want.data[i], tol) << name << "[" << i << "]";
    }
  }
}

std::vector<std::string> BuiltinNames() {
  std::vector<std::string> names;
  for (const sweep_kernel* kernel : BuiltinKernels()) names.push_back(kernel->name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Kernel, KernelReferenceTest, ::testing::ValuesIn(BuiltinNames()),
                         [](const auto& test) { return test.param; });

}  // namespace
}  // namespace sweep
