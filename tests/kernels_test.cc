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

#include "driver/binding.h"
#include "driver/space.h"
#include "io/config.h"
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

  // compute_batch() over points[i] (number parameters) with seeds[i]: 0 and each point's
  // outputs in *out, or the kernel's non-zero code, its message in *error and the failing
  // point's index in *failed. The kernel's seeds are NULL when it declares it ignores them.
  int TryComputeBatch(const std::vector<Params>& points, const std::vector<uint64_t>& seeds,
                      std::vector<Outputs>* out, int64_t* failed, std::string* error) {
    if (!started_ || kernel_->compute_batch == nullptr) {
      *error = "not started or not batched";
      return -1;
    }
    const size_t n = points.size();
    std::vector<std::vector<double>> numbers(static_cast<size_t>(kernel_->n_params));
    for (const Params& point : points) {
      const std::vector<sweep_value> values = Values(point);
      for (size_t j = 0; j < values.size(); ++j) numbers[j].push_back(values[j].number);
    }
    std::vector<sweep_column> columns;
    for (const std::vector<double>& column : numbers)
      columns.push_back({SWEEP_VALUE_NUMBER, column.data(), nullptr, nullptr});
    const bool ignores = kernel_->flags & SWEEP_KERNEL_IGNORES_SEED;
    const sweep_batch batch{static_cast<int64_t>(n), columns.data(),
                            ignores ? nullptr : seeds.data()};
    std::vector<std::vector<double>> rows;
    std::vector<sweep_array> arrays;
    std::vector<size_t> per_point;
    for (const sweep_output_decl& decl : decls_) {
      size_t count = 1;
      for (int d = 0; d < decl.rank; ++d) count *= static_cast<size_t>(decl.shape[d]);
      per_point.push_back(count);
      rows.emplace_back(count * n, std::numeric_limits<double>::quiet_NaN());
      rows.back().push_back(kGuard);
    }
    for (size_t i = 0; i < decls_.size(); ++i) {
      sweep_array a{rows[i].data(), SWEEP_FLOAT64, decls_[i].rank, {0, 0, 0, 0}};
      std::copy(decls_[i].shape, decls_[i].shape + SWEEP_MAX_RANK, a.shape);
      arrays.push_back(a);
    }
    char err[kErrSize];
    std::memset(err, 'x', sizeof err);
    *failed = -1;
    const int rc = kernel_->compute_batch(state_, &batch, arrays.data(), failed, err, sizeof err);
    for (size_t i = 0; i < decls_.size(); ++i)
      EXPECT_EQ(rows[i].back(), kGuard) << "compute_batch() wrote past output " << decls_[i].name;
    if (rc != 0) {
      *error = Message(err);
      return rc;
    }
    out->assign(n, Outputs{});
    for (size_t p = 0; p < n; ++p) {
      for (size_t i = 0; i < decls_.size(); ++i) {
        const auto from = rows[i].begin() + static_cast<std::ptrdiff_t>(p * per_point[i]);
        (*out)[p][decls_[i].name] =
            Output{std::vector<int64_t>(decls_[i].shape, decls_[i].shape + decls_[i].rank),
                   std::vector<double>(from, from + static_cast<std::ptrdiff_t>(per_point[i]))};
      }
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

// A kernel that declares SWEEP_KERNEL_IGNORES_SEED gets no seeds (0 per point, NULL in a batch),
// so it must give the same bits whatever the seed.
TEST(KernelAbiTest, KernelsDeclaringTheyIgnoreTheSeedDo) {
  int declaring = 0;
  for (const sweep_kernel* kernel : BuiltinKernels()) {
    if (!(kernel->flags & SWEEP_KERNEL_IGNORES_SEED)) continue;
    SCOPED_TRACE(kernel->name);
    ++declaring;
    KernelRun run(kernel->name, {}, DefaultInputs(*kernel));
    ASSERT_EQ(run.start_error(), "");
    const Outputs a = run.Compute(OnesFor(*kernel), 0);
    const Outputs b = run.Compute(OnesFor(*kernel), 0x9e3779b97f4a7c15ULL);
    for (const auto& [name, output] : a)
      EXPECT_EQ(std::memcmp(output.values.data(), b.at(name).values.data(),
                            output.values.size() * sizeof(double)),
                0)
          << name;
  }
  EXPECT_GE(declaring, 5);
}

// The points of one compute_batch() call give the bytes compute() gives each of them, and a
// failing point is named by its index with compute()'s message; kernels without the entry are
// listed, so adding one is noticed.
TEST(KernelAbiTest, BatchedEntryGivesComputesBytesPointByPoint) {
  std::set<std::string> batched;
  for (const sweep_kernel* kernel : BuiltinKernels()) {
    if (kernel->compute_batch == nullptr) continue;
    SCOPED_TRACE(kernel->name);
    batched.insert(kernel->name);
    KernelRun run(kernel->name, {}, DefaultInputs(*kernel));
    ASSERT_EQ(run.start_error(), "");
    std::vector<Params> points;
    std::vector<uint64_t> seeds;
    for (int i = 0; i < 6; ++i) {
      Params p = OnesFor(*kernel);
      for (auto& [name, value] : p) value = 1.0 + 0.25 * i;
      points.push_back(p);
      seeds.push_back(0x1234567ULL * uint64_t(i + 1));
    }
    std::vector<Outputs> got;
    int64_t failed = -1;
    std::string error;
    ASSERT_EQ(run.TryComputeBatch(points, seeds, &got, &failed, &error), 0) << error;
    for (size_t i = 0; i < points.size(); ++i) {
      const Outputs want = run.Compute(points[i], seeds[i]);
      for (const auto& [name, output] : want)
        EXPECT_EQ(std::memcmp(output.values.data(), got[i].at(name).values.data(),
                              output.values.size() * sizeof(double)),
                  0)
            << name << " at point " << i;
    }
  }
  EXPECT_EQ(batched, (std::set<std::string>{"array_sum", "fill", "option_mc", "ridge", "square"}));
}

TEST(KernelAbiTest, BatchedFailureNamesThePointWithComputesMessage) {
  KernelRun run("ridge", {{"features", "8"}}, DefaultInputs(*FindBuiltinKernel("ridge")));
  ASSERT_EQ(run.start_error(), "");
  const std::vector<Params> points = {
      {{"lambda", 1}}, {{"lambda", 0.5}}, {{"lambda", -2}}, {{"lambda", 3}}};
  std::vector<Outputs> got;
  int64_t failed = -1;
  std::string error;
  EXPECT_NE(run.TryComputeBatch(points, {1, 2, 3, 4}, &got, &failed, &error), 0);
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(error, run.ComputeError({{"lambda", -2}}));
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

// array_sum's sum is defined bit for bit (kernels/builtin/array_sum.cc): sixteen partial sums,
// partial sum j adding data[i + j] for i = 0, 16, ..., combined by a fixed tree, then the tail.
// Whatever vectors the machine runs it with, the bits are those of this scalar definition, over
// lengths that leave every tail and values whose sum depends on the order of additions.
TEST(KernelArraySumTest, SumsInSixteenLanesCombinedByAFixedTree) {
  for (int64_t n : {1, 15, 16, 17, 1000, 4099}) {
    Array data;
    data.shape = {n};
    for (int64_t k = 0; k < n; ++k)
      data.data.push_back(std::ldexp(std::sin(0.7 * double(k)) + 1.1, int(k % 40) - 20));
    double partial[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
      for (int j = 0; j < 16; ++j) partial[j] += data.data[size_t(i + j)];
    for (int width = 8; width >= 2; width /= 2)
      for (int j = 0; j < width; ++j) partial[j] += partial[j + width];
    double want = partial[0] + partial[1];
    for (; i < n; ++i) want += data.data[size_t(i)];
    KernelRun run("array_sum", {}, {{"data", data}});
    ASSERT_EQ(run.start_error(), "");
    const double got = run.Compute({{"scale", 1.0}}).at("sum").scalar();
    EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0) << "n = " << n << ": " << got << " " << want;
  }
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

namespace sweep {
namespace {

// ---------------------------------------------------------------------------------------------
// lorenz

TEST(KernelLorenzTest, LyapunovExponentAtTheClassicParameters) {
  // 1000 time units at dt = 0.005: the estimate of the exponent (0.906) is within a few percent.
  KernelRun run("lorenz", {{"steps", "200000"}, {"dt", "0.005"}, {"transient", "10"}});
  const Outputs out = run.Compute({{"sigma", 10}, {"rho", 28}, {"beta", 8.0 / 3.0}});
  EXPECT_GE(out.at("lyapunov").scalar(), 0.8);
  EXPECT_LE(out.at("lyapunov").scalar(), 1.0);
}

// Below rho = 1 the origin attracts; the largest exponent is the largest eigenvalue of the
// Jacobian there, (-(sigma + 1) + sqrt((sigma - 1)^2 + 4 sigma rho)) / 2, once the tangent
// vector has turned into its eigenvector during the transient.
TEST(KernelLorenzTest, StableOriginAtSmallRho) {
  KernelRun run("lorenz", {{"steps", "20000"}, {"dt", "0.005"}, {"transient", "20"}});
  const double sigma = 10, rho = 0.5;
  const Outputs out = run.Compute({{"sigma", sigma}, {"rho", rho}, {"beta", 8.0 / 3.0}});
  const double slowest =
      (-(sigma + 1) + std::sqrt((sigma - 1) * (sigma - 1) + 4 * sigma * rho)) / 2;
  EXPECT_LT(out.at("lyapunov").scalar(), 0);
  EXPECT_NEAR(out.at("lyapunov").scalar(), slowest, 1e-4);
  for (double x : out.at("state").values) EXPECT_NEAR(x, 0, 1e-6);
}

// For 1 < rho < 24.74 the trajectory settles on C+ or C-, where z = rho - 1 and the largest
// exponent is the real part of the Jacobian's complex pair (-0.5955 at rho = 10).
TEST(KernelLorenzTest, SettlesOnTheFixedPointBelowTheHopfBifurcation) {
  KernelRun run("lorenz", {{"steps", "20000"}, {"dt", "0.005"}, {"transient", "30"}});
  const double rho = 10, beta = 8.0 / 3.0;
  const Outputs out = run.Compute({{"sigma", 10}, {"rho", rho}, {"beta", beta}});
  EXPECT_NEAR(out.at("z_mean").scalar(), rho - 1, 1e-5);
  const double xy = std::sqrt(beta * (rho - 1));
  const auto& state = out.at("state").values;
  EXPECT_NEAR(std::abs(state[0]), xy, 1e-5);
  EXPECT_NEAR(state[1], state[0], 1e-5);
  EXPECT_NEAR(state[2], rho - 1, 1e-5);
  EXPECT_NEAR(out.at("lyapunov").scalar(), -0.5955, 0.01);
}

// Halving dt divides RK4's global error by about 2^4 (measured where the error is asymptotic:
// on the chaotic attractor dt = 0.01 is not yet small enough for that).
TEST(KernelLorenzTest, Rk4IsFourthOrder) {
  auto state_at_one = [](double dt) {
    const std::string steps = std::to_string(static_cast<int>(std::lround(1.0 / dt)));
    KernelRun run("lorenz", {{"steps", steps}, {"dt", std::to_string(dt)}, {"transient", "0"}});
    return run.Compute({{"sigma", 10}, {"rho", 10}, {"beta", 8.0 / 3.0}}).at("state").values;
  };
  const std::vector<double> exact = state_at_one(0.0002);
  auto error = [&](const std::vector<double>& state) {
    double e = 0;
    for (int i = 0; i < 3; ++i) e = std::max(e, std::abs(state[i] - exact[i]));
    return e;
  };
  const double coarse = error(state_at_one(0.01)), fine = error(state_at_one(0.005));
  EXPECT_GT(coarse / fine, 14.0);
  EXPECT_LT(coarse / fine, 19.0);
}

TEST(KernelLorenzTest, IgnoresTheSeed) {
  KernelRun run("lorenz", {{"steps", "1000"}});
  const Params classic{{"sigma", 10}, {"rho", 28}, {"beta", 8.0 / 3.0}};
  EXPECT_EQ(run.Compute(classic, 1).at("state").values, run.Compute(classic, 2).at("state").values);
}

// ---------------------------------------------------------------------------------------------
// heat2d

Array Field(int64_t ny, int64_t nx, const std::function<double(int64_t, int64_t)>& f) {
  Array a{{ny, nx}, {}};
  for (int64_t y = 0; y < ny; ++y)
    for (int64_t x = 0; x < nx; ++x) a.data.push_back(f(y, x));
  return a;
}

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

TEST(KernelHeat2dTest, PeriodicBoundariesConserveTheMean) {
  const Array field = Field(24, 32, [](int64_t y, int64_t x) { return std::sin(1.7 * x * y + y); });
  KernelRun run("heat2d", {{"steps", "300"}, {"boundary", "periodic"}}, {{"field", field}});
  // alpha = 2.5 is the stability limit for dt = 0.1, dx = 1.
  const Outputs out = run.Compute({{"alpha", 2.5}});
  EXPECT_NEAR(out.at("mean").scalar(), Mean(field.data), 1e-13);
  EXPECT_NEAR(Mean(out.at("field_small").values), Mean(field.data), 1e-13);
  // Diffusion only smooths: the extremes move inwards.
  EXPECT_GT(out.at("min").scalar(), *std::min_element(field.data.begin(), field.data.end()));
  EXPECT_LT(out.at("max").scalar(), *std::max_element(field.data.begin(), field.data.end()));
}

// A Fourier mode is an eigenvector of the periodic FTCS step with eigenvalue
// g = 1 - 4 r (sin^2(pi k / nx) + sin^2(pi l / ny)).
TEST(KernelHeat2dTest, FourierModeDecaysByTheDiscreteFactor) {
  const int64_t ny = 16, nx = 32, k = 3, l = 2, steps = 60;
  const double alpha = 0.7, dt = 0.05, dx = 0.5, r = alpha * dt / (dx * dx);
  const Array field = Field(ny, nx, [&](int64_t y, int64_t x) {
    return std::cos(2 * kPi * k * x / nx) * std::cos(2 * kPi * l * y / ny);
  });
  KernelRun run("heat2d",
                {{"steps", std::to_string(steps)}, {"dt", "0.05"}, {"dx", "0.5"}, {"out", "16"}},
                {{"field", field}});
  const Outputs out = run.Compute({{"alpha", alpha}});
  const double sx = std::sin(kPi * k / nx), sy = std::sin(kPi * l / ny);
  const double amplitude = std::pow(1 - 4 * r * (sx * sx + sy * sy), steps);
  ASSERT_LT(amplitude, 0.5);
  EXPECT_NEAR(out.at("max").scalar(), amplitude, 1e-13);
  EXPECT_NEAR(out.at("min").scalar(), -amplitude, 1e-13);
  EXPECT_NEAR(out.at("variance").scalar(), amplitude * amplitude / 4, 1e-13);
  EXPECT_NEAR(out.at("mean").scalar(), 0, 1e-13);
}

TEST(KernelHeat2dTest, FixedBoundaryHoldsTheEdges) {
  const Array field =
      Field(6, 5, [](int64_t y, int64_t x) { return (y == 0 || x == 4) ? 1.0 : 0.0; });
  KernelRun run("heat2d", {{"boundary", "fixed"}, {"steps", "500"}, {"out", "6"}},
                {{"field", field}});
  // out = 6 on a 6 x 5 field: rows map one to one, columns are split into 6 equal cells.
  const Output small = run.Compute({{"alpha", 2.0}}).at("field_small");
  for (int64_t x = 0; x < 6; ++x) EXPECT_DOUBLE_EQ(small.values[static_cast<size_t>(x)], 1.0);
  // Output columns 0 and 5 lie inside input columns 0 and 4, the held left and right edges.
  for (int64_t y = 1; y < 6; ++y) {
    EXPECT_EQ(small.values[static_cast<size_t>(y * 6)], 0.0);
    EXPECT_EQ(small.values[static_cast<size_t>(y * 6 + 5)], 1.0);
  }
  // Inside, heat has flowed in from the hot edges, but no value leaves [0, 1].
  for (int64_t y = 1; y < 5; ++y) {
    for (int64_t x = 1; x < 5; ++x) {
      EXPECT_GT(small.values[static_cast<size_t>(y * 6 + x)], 0.01);
      EXPECT_LT(small.values[static_cast<size_t>(y * 6 + x)], 1.0);
    }
  }
}

TEST(KernelHeat2dTest, UnstableAlphaFailsThePointOnly) {
  const Array field = Field(4, 4, [](int64_t y, int64_t x) { return double(x + y); });
  KernelRun run("heat2d", {{"dt", "0.2"}, {"dx", "2"}}, {{"field", field}});
  ASSERT_EQ(run.start_error(), "");
  const std::string error = run.ComputeError({{"alpha", 5.5}});
  EXPECT_NE(error.find("alpha=5.5"), std::string::npos) << error;
  EXPECT_NE(error.find("0.25"), std::string::npos) << error;
  EXPECT_NE(error.find("largest stable alpha is dx^2/(4 dt) = 5"), std::string::npos) << error;
  // The limit itself is stable, and the worker's state survives the failed point.
  EXPECT_NEAR(run.Compute({{"alpha", 5.0}}).at("mean").scalar(), 3.0, 1e-12);
}

TEST(KernelHeat2dTest, BadOptionsAreRefusedByOutputs) {
  const Array field = Field(4, 4, [](int64_t, int64_t) { return 0.0; });
  EXPECT_NE(KernelRun("heat2d", {{"boundary", "open"}}, {{"field", field}})
                .start_error()
                .find("boundary must be periodic or fixed"),
            std::string::npos);
  EXPECT_NE(KernelRun("heat2d", {{"out", "0"}}, {{"field", field}}).start_error().find("out"),
            std::string::npos);
  EXPECT_NE(KernelRun("heat2d", {{"dt", "-1"}}, {{"field", field}}).start_error().find("dt"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// ising2d

// Onsager's energy per spin of the infinite lattice.
double OnsagerEnergy(double T) {
  const double b = 1 / T, k = 2 * std::sinh(2 * b) / std::pow(std::cosh(2 * b), 2);
  const double t = std::tanh(2 * b);
  return -1 / t * (1 + 2 / kPi * (2 * t * t - 1) * std::comp_ellint_1(k));
}

TEST(KernelIsing2dTest, OrderedAtLowTemperature) {
  KernelRun run("ising2d", {{"L", "32"}, {"sweeps", "1000"}, {"burn_in", "100"}});
  const Outputs out = run.Compute({{"T", 1.0}}, 7);
  EXPECT_GT(out.at("magnetisation").scalar(), 0.99);
  EXPECT_NEAR(out.at("energy").scalar(), OnsagerEnergy(1.0), 0.003);
  EXPECT_NEAR(out.at("energy").scalar(), -2.0, 0.01);
}

TEST(KernelIsing2dTest, DisorderedAtHighTemperature) {
  KernelRun run("ising2d", {{"L", "32"}, {"sweeps", "1000"}, {"burn_in", "200"}});
  const Outputs out = run.Compute({{"T", 5.0}}, 8);
  EXPECT_LT(out.at("magnetisation").scalar(), 0.1);
  EXPECT_NEAR(out.at("energy").scalar(), OnsagerEnergy(5.0), 0.01);
}

// The 16 states of the 2 x 2 torus, summed exactly.
TEST(KernelIsing2dTest, MatchesExactEnumerationOnTwoByTwo) {
  const double T = 2.5;
  double z = 0, e = 0, e2 = 0, m = 0, m2 = 0;
  for (int bits = 0; bits < 16; ++bits) {
    int s[2][2];
    for (int i = 0; i < 4; ++i) s[i / 2][i % 2] = (bits >> i) & 1 ? 1 : -1;
    int energy = 0, magnetisation = 0;
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 2; ++x) {
        energy -= s[y][x] * (s[y][(x + 1) % 2] + s[(y + 1) % 2][x]);
        magnetisation += s[y][x];
      }
    }
    const double w = std::exp(-energy / T);
    z += w;
    e += w * energy / 4.0;
    e2 += w * energy * energy / 16.0;
    m += w * std::abs(magnetisation) / 4.0;
    m2 += w * magnetisation * magnetisation / 16.0;
  }
  e /= z, e2 /= z, m /= z, m2 /= z;
  KernelRun run("ising2d", {{"L", "2"}, {"sweeps", "200000"}, {"burn_in", "100"}});
  const Outputs out = run.Compute({{"T", T}}, 3);
  EXPECT_NEAR(out.at("energy").scalar(), e, 0.01);
  EXPECT_NEAR(out.at("magnetisation").scalar(), m, 0.01);
  EXPECT_NEAR(out.at("susceptibility").scalar(), 4 * (m2 - m * m) / T, 0.03 * 4 * (m2 - m * m) / T);
  EXPECT_NEAR(out.at("heat_capacity").scalar(), 4 * (e2 - e * e) / (T * T),
              0.03 * 4 * (e2 - e * e) / (T * T));
}

TEST(KernelIsing2dTest, SusceptibilityPeaksNearTheCriticalTemperature) {
  KernelRun run("ising2d", {{"L", "16"}, {"sweeps", "4000"}, {"burn_in", "500"}});
  double peak_t = 0, peak_chi = -1;
  for (double T = 1.8; T < 3.05; T += 0.1) {
    const double chi = run.Compute({{"T", T}}, 100).at("susceptibility").scalar();
    if (chi > peak_chi) peak_chi = chi, peak_t = T;
  }
  EXPECT_GE(peak_t, 2.1);
  EXPECT_LE(peak_t, 2.6);
}

TEST(KernelIsing2dTest, TheSeedDecides) {
  KernelRun run("ising2d", {{"L", "8"}, {"sweeps", "50"}, {"burn_in", "0"}});
  const double a = run.Compute({{"T", 2.3}}, 1).at("energy").scalar();
  EXPECT_EQ(a, run.Compute({{"T", 2.3}}, 1).at("energy").scalar());
  EXPECT_NE(a, run.Compute({{"T", 2.3}}, 2).at("energy").scalar());
}

// ---------------------------------------------------------------------------------------------
// ridge

Array Vector(const std::vector<double>& v) { return Array{{static_cast<int64_t>(v.size())}, v}; }

TEST(KernelRidgeTest, OneFeatureClosedForm) {
  const std::vector<double> x{1, 2, 3, 4, 5, -1}, y{2.1, 3.9, 6.2, 7.8, 10.1, -2.0};
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) sxy += x[i] * y[i], sxx += x[i] * x[i];
  KernelRun run("ridge", {{"features", "1"}, {"validation_fraction", "0"}},
                {{"X", Array{{6, 1}, x}}, {"y", Vector(y)}});
  for (double lambda : {0.0, 0.3, 7.0}) {
    const Outputs out = run.Compute({{"lambda", lambda}});
    const double beta = sxy / (sxx + lambda);
    EXPECT_NEAR(out.at("coef").values.at(0), beta, 1e-13);
    double mse = 0;
    for (size_t i = 0; i < x.size(); ++i) mse += std::pow(y[i] - beta * x[i], 2) / 6;
    EXPECT_NEAR(out.at("train_mse").scalar(), mse, 1e-12);
    EXPECT_TRUE(std::isnan(out.at("val_mse").scalar()));
  }
}

TEST(KernelRidgeTest, RecoversANoiseFreeModelExactly) {
  const std::vector<double> beta{0.5, -2.0, 3.25, 1.0};
  Array X = Field(20, 4, [](int64_t i, int64_t j) { return std::cos(1.3 * i * (j + 1) + j); });
  std::vector<double> y;
  for (int64_t i = 0; i < 20; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < 4; ++j) sum += X.data[static_cast<size_t>(i * 4 + j)] * beta[j];
    y.push_back(sum);
  }
  KernelRun run("ridge", {{"features", "4"}}, {{"X", X}, {"y", Vector(y)}});
  const Outputs out = run.Compute({{"lambda", 0.0}});
  for (size_t j = 0; j < 4; ++j) EXPECT_NEAR(out.at("coef").values[j], beta[j], 1e-10);
  EXPECT_LT(out.at("train_mse").scalar(), 1e-20);
  EXPECT_LT(out.at("val_mse").scalar(), 1e-20);  // the 4 held-out rows are predicted too
}

TEST(KernelRidgeTest, LargeLambdaShrinksTheCoefficientsToZero) {
  Array X = Field(30, 3, [](int64_t i, int64_t j) { return std::sin(0.7 * i * (j + 1) + j); });
  std::vector<double> y;
  for (int64_t i = 0; i < 30; ++i) y.push_back(std::cos(0.3 * i) + 1);
  KernelRun run("ridge", {{"features", "3"}}, {{"X", X}, {"y", Vector(y)}});
  double previous = std::numeric_limits<double>::infinity();
  for (double lambda : {0.0, 0.1, 1.0, 10.0, 100.0, 1e12}) {
    const auto coef = run.Compute({{"lambda", lambda}}).at("coef").values;
    const double norm = std::sqrt(coef[0] * coef[0] + coef[1] * coef[1] + coef[2] * coef[2]);
    EXPECT_LT(norm, previous) << lambda;
    previous = norm;
  }
  EXPECT_LT(previous, 1e-10);
}

TEST(KernelRidgeTest, RefusesMismatchedInputsAndSingularSystems) {
  const Array X{{3, 2}, {1, 2, 2, 4, 3, 6}};  // second column = 2 x first
  EXPECT_NE(KernelRun("ridge", {{"features", "2"}}, {{"X", X}, {"y", Vector({1, 2})}})
                .start_error()
                .find("X has 3 rows but y has 2"),
            std::string::npos);
  KernelRun run("ridge", {{"features", "2"}, {"validation_fraction", "0"}},
                {{"X", X}, {"y", Vector({1, 2, 3})}});
  EXPECT_NE(run.ComputeError({{"lambda", 0.0}}).find("not positive definite"), std::string::npos);
  EXPECT_NE(run.ComputeError({{"lambda", -1.0}}).find("lambda must be >= 0"), std::string::npos);
  EXPECT_EQ(run.Compute({{"lambda", 1.0}}).at("coef").shape, std::vector<int64_t>{2});
}

// ---------------------------------------------------------------------------------------------
// blur

TEST(KernelBlurTest, ConstantImageStaysConstant) {
  const Array image = Field(13, 17, [](int64_t, int64_t) { return 2.5; });
  KernelRun run("blur", {}, {{"image", image}});
  for (double sigma : {0.7, 2.7, 30.0}) {
    const Outputs out = run.Compute({{"sigma", sigma}});
    EXPECT_NEAR(out.at("mean").scalar(), 2.5, 1e-13);
    EXPECT_NEAR(out.at("min").scalar(), 2.5, 1e-13);
    EXPECT_NEAR(out.at("max").scalar(), 2.5, 1e-13);
    EXPECT_NEAR(out.at("std").scalar(), 0, 1e-13);
  }
}

// Mirrored edges make the blur a symmetric, doubly stochastic operator: any image keeps its mean.
TEST(KernelBlurTest, ReflectingEdgesPreserveTheMean) {
  const Array image = Field(9, 14, [](int64_t y, int64_t x) { return std::sin(3.1 * x * x + y); });
  KernelRun run("blur", {}, {{"image", image}});
  for (double sigma : {0.8, 3.0, 20.0})
    EXPECT_NEAR(run.Compute({{"sigma", sigma}}).at("mean").scalar(), Mean(image.data), 1e-14);
}

TEST(KernelBlurTest, DeltaImageGivesTheNormalisedKernel) {
  const int64_t n = 21, c = 10;
  const double sigma = 1.5;  // radius floor(4 * 1.5 + 0.5) = 6: no edge is reached
  const Array image =
      Field(n, n, [&](int64_t y, int64_t x) { return y == c && x == c ? 1.0 : 0.0; });
  KernelRun run("blur", {{"out", "21"}}, {{"image", image}});
  const Output small = run.Compute({{"sigma", sigma}}).at("image_small");
  double total = 0;
  for (int k = -6; k <= 6; ++k) total += std::exp(-k * k / (2 * sigma * sigma));
  auto g = [&](int64_t k) {
    return std::abs(k) > 6 ? 0.0 : std::exp(-double(k * k) / (2 * sigma * sigma)) / total;
  };
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x)
      EXPECT_NEAR(small.values[static_cast<size_t>(y * n + x)], g(y - c) * g(x - c), 1e-15);
}

TEST(KernelBlurTest, TinySigmaIsTheIdentity) {
  const Array image = Field(5, 7, [](int64_t y, int64_t x) { return std::cos(x + 2.0 * y); });
  KernelRun run("blur", {{"out", "7"}}, {{"image", image}});
  const Output exact = run.Compute({{"sigma", 0.1}}).at("image_small");   // radius 0
  const Output almost = run.Compute({{"sigma", 0.2}}).at("image_small");  // weights e^-12.5
  // out = 7 on 5 rows: output row i averages input rows over [5i/7, 5(i+1)/7).
  for (int64_t x = 0; x < 7; ++x) {
    EXPECT_DOUBLE_EQ(exact.values[static_cast<size_t>(x)], image.data[static_cast<size_t>(x)]);
    EXPECT_NEAR(almost.values[static_cast<size_t>(x)], image.data[static_cast<size_t>(x)], 1e-5);
  }
}

// ---------------------------------------------------------------------------------------------
// option_mc

double BlackScholesCall(double s0, double k, double r, double vol, double t) {
  const double d1 = (std::log(s0 / k) + (r + vol * vol / 2) * t) / (vol * std::sqrt(t));
  const double d2 = d1 - vol * std::sqrt(t);
  auto N = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  return s0 * N(d1) - k * std::exp(-r * t) * N(d2);
}

TEST(KernelOptionMcTest, WithinThreeStandardErrorsOfBlackScholes) {
  const std::vector<std::vector<double>> cases{
      {100, 100, 0.05, 0.2, 1}, {100, 130, 0.02, 0.4, 0.5}, {40, 30, 0.0, 0.1, 3}};
  for (const char* antithetic : {"0", "1"}) {
    KernelRun run("option_mc", {{"paths", "100000"}, {"antithetic", antithetic}});
    uint64_t seed = 17;
    for (const auto& c : cases) {
      const Outputs out =
          run.Compute({{"S0", c[0]}, {"K", c[1]}, {"r", c[2]}, {"vol", c[3]}, {"T", c[4]}}, seed++);
      const double exact = BlackScholesCall(c[0], c[1], c[2], c[3], c[4]);
      const double stderr_ = out.at("stderr").scalar();
      EXPECT_GT(stderr_, 0);
      EXPECT_LT(stderr_, 0.02 * exact);
      EXPECT_NEAR(out.at("price").scalar(), exact, 3 * stderr_) << antithetic << " " << c[1];
    }
  }
}

TEST(KernelOptionMcTest, AntitheticPairsReduceTheError) {
  const Params atm{{"S0", 100}, {"K", 100}, {"r", 0.05}, {"vol", 0.2}, {"T", 1}};
  KernelRun plain("option_mc", {{"antithetic", "0"}});
  KernelRun paired("option_mc", {{"antithetic", "1"}});
  EXPECT_LT(paired.Compute(atm, 4).at("stderr").scalar(),
            0.8 * plain.Compute(atm, 4).at("stderr").scalar());
}

TEST(KernelOptionMcTest, ZeroVolatilityIsTheDiscountedForwardPayoff) {
  KernelRun run("option_mc", {{"paths", "1000"}});
  const Outputs out = run.Compute({{"S0", 100}, {"K", 90}, {"r", 0.05}, {"vol", 0}, {"T", 2}});
  EXPECT_NEAR(out.at("price").scalar(), 100 - 90 * std::exp(-0.1), 1e-12);
  EXPECT_EQ(out.at("stderr").scalar(), 0.0);
}

TEST(KernelOptionMcTest, TheSeedDecides) {
  KernelRun run("option_mc", {{"paths", "2000"}});
  const Params p{{"S0", 100}, {"K", 100}, {"r", 0.05}, {"vol", 0.2}, {"T", 1}};
  const double a = run.Compute(p, 1).at("price").scalar();
  EXPECT_EQ(a, run.Compute(p, 1).at("price").scalar());
  EXPECT_NE(a, run.Compute(p, 2).at("price").scalar());
}

// ---------------------------------------------------------------------------------------------
// binding

// tests/fuzz/regressions/number-option-beyond-int64: the binding once converted every number
// option to an int64 too, which for 1e300 is undefined behaviour (UBSan aborts; x86 gives
// INT64_MIN).
TEST(KernelBindingTest, NumberOptionsKeepTheirValueWhateverTheirSize) {
  const Config config = ParseConfig(
      "name: t\n"
      "kernel: {name: lorenz, options: {dt: 1e300, steps: 7}}\n"
      "parameters: {sigma: 10, rho: 28, beta: 2.5}\n",
      "t.yaml");
  const Space space(config);
  const KernelBinding binding = BindKernel(config, space);
  ASSERT_EQ(binding.option_values.size(), 3u);
  EXPECT_EQ(binding.option_values[0].type, SWEEP_VALUE_INTEGER);  // steps
  EXPECT_EQ(binding.option_values[0].integer, 7);
  EXPECT_EQ(binding.option_values[0].number, 7.0);
  EXPECT_EQ(binding.option_values[1].type, SWEEP_VALUE_NUMBER);  // dt
  EXPECT_EQ(binding.option_values[1].number, 1e300);
  EXPECT_EQ(binding.option_values[1].integer, 0);
  EXPECT_EQ(binding.option_values[2].number, 5.0);  // transient, the default
  EXPECT_EQ(binding.parameter_source, (std::vector<int>{0, 1, 2}));

  // NaN reaches the kernel's own check, which refuses it.
  const Config nan = ParseConfig(
      "name: t\nkernel: {name: lorenz, options: {dt: .nan}}\n"
      "parameters: {sigma: 10, rho: 28, beta: 2.5}\n",
      "t.yaml");
  try {
    BindKernel(nan, Space(nan));
    ADD_FAILURE() << "dt: .nan was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("option dt must be > 0, got nan"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sweep
