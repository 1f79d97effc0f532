// The output file as users open it: every shipped config's output in xarray (h5netcdf) and in
// netCDF's own ncdump, its size as `sweep plan` announced it, its `sweep report`, and the
// quickstart's labelled selection the README shows. The readers are Debian's, installed by
// scripts/setup.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "io/output_file.h"
#include "io/output_lock.h"
#include "tests/e2e.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

using testing::ReadDataset;
using testing::RunResult;
using testing::RunSweep;
using testing::SourcePath;

const char* kPython = "/usr/bin/python3";

int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Checks, with xarray, that the file is a labelled dataset: dims named as sweep_dims says, in that
// order, every output over them (then its own named dims), every parameter a coordinate, and no
// point left missing in a finished run; and that its group `chunks` holds each chunk's provenance.
const char* kCheckScript = R"(import sys, json, numpy as np, xarray as xr
ds = xr.open_dataset(sys.argv[1], engine='h5netcdf')
dims = list(np.atleast_1d(ds.attrs['sweep_dims']))
outputs = list(np.atleast_1d(ds.attrs['outputs']))
params = json.loads(sys.argv[2])
for name in outputs:
    v = ds[name]
    assert list(v.dims[:len(dims)]) == dims, (name, v.dims, dims)
    assert all(d.startswith(name + '_') for d in v.dims[len(dims):]), v.dims
    if v.dtype.kind == 'f':
        assert not np.isnan(v.values).any(), name + ' has missing points after a finished run'
for p in params:
    assert p in ds.coords, (p, list(ds.coords))
for d in dims:
    assert d in ds.dims
# Every chunk's provenance: this machine, a worker, a start time (a datetime), its peak memory.
chunks = xr.open_dataset(sys.argv[1], engine='h5netcdf', group='chunks')
assert (chunks.status.values == 1).all()
hosts = chunks.host_names[chunks.host].values  # as the README shows
assert (hosts == sys.argv[3]).all(), set(hosts)
assert (chunks.worker.values >= 0).all()
assert chunks.start_time.dtype.kind == 'M' and not np.isnat(chunks.start_time.values).any()
assert (chunks.max_rss.values > 0).all()
assert (chunks.failure.values == 0).all()
print('ok', dict(ds.sizes))
)";

class ShippedConfigOutput : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedConfigOutput, OpensInXarrayAndNcdumpAtThePlannedSize) {
  TempDir dir;
  const std::string config = SourcePath("configs/" + GetParam() + ".yaml");
  std::vector<std::string> set;
  if (GetParam() == "plugin") set = {"--set", std::string("kernel.plugin=") + SWEEP_EXAMPLE_PLUGIN};
  std::vector<std::string> plan_args = {"plan", config, "--json"};
  plan_args.insert(plan_args.end(), set.begin(), set.end());
  const RunResult plan = RunSweep(plan_args, dir.path());
  ASSERT_EQ(plan.code, 0) << plan.err;
  const nlohmann::json planned = nlohmann::json::parse(plan.out);

  std::vector<std::string> run_args = {"run", config, "-q", "-o", dir / "out.h5"};
  run_args.insert(run_args.end(), set.begin(), set.end());
  const RunResult run = RunSweep(run_args, dir.path());
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(planned["output_bytes"].get<uint64_t>(), std::filesystem::file_size(dir / "out.h5"));

  EXPECT_EQ(Shell("ncdump -h " + dir / "out.h5" + " > " + dir / "ncdump.txt" + " 2>&1"), 0)
      << testing::ReadFile(dir / "ncdump.txt");
  // Units and long names as the kernel declares them (a plugin's through sweep_kernel_variables).
  const std::string cdl = testing::ReadFile(dir / "ncdump.txt");
  if (GetParam() == "plugin") {
    EXPECT_NE(cdl.find("phase:units = \"rad\" ;"), std::string::npos);
  }
  if (GetParam() == "quickstart") {
    EXPECT_NE(cdl.find("lyapunov:long_name = \"largest Lyapunov exponent\" ;"), std::string::npos);
  }
  testing::WriteFile(dir / "check.py", kCheckScript);
  const std::string params = planned["parameters"].dump();
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "check.py" + " " + dir / "out.h5" + " '" +
                  params + "' '" + HostName() + "' > " + dir / "xarray.txt" + " 2>&1"),
            0)
      << testing::ReadFile(dir / "xarray.txt");
  // The CF-1.8 rules that apply to it (tests/cf_check.py).
  EXPECT_EQ(Shell(std::string(kPython) + " " + SourcePath("tests/cf_check.py") + " " +
                  dir / "out.h5" + " > " + dir / "cf.txt" + " 2>&1"),
            0)
      << testing::ReadFile(dir / "cf.txt");

  // Its report plots every scalar output, and draws the timeline of its chunks.
  const RunResult report =
      RunSweep({"report", dir / "out.h5", "-o", dir / "report.html"}, dir.path());
  ASSERT_EQ(report.code, 0) << report.err;
  const std::string html = testing::ReadFile(dir / "report.html");
  for (const OutputDatasetInfo& output : ReadOutputLayout(dir / "out.h5").results) {
    const std::string figure = "<figure class=\"result\" data-output=\"" + output.name + "\"";
    EXPECT_EQ(html.find(figure) != std::string::npos, output.point_shape.empty()) << output.name;
  }
  EXPECT_NE(html.find("class=\"bar\""), std::string::npos);
  EXPECT_NE(html.find("finished: every point done"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Configs, ShippedConfigOutput,
                         ::testing::Values("blur", "command", "fork_static", "heat2d", "ising2d",
                                           "lorenz", "option_mc", "persistent", "plugin", "python",
                                           "python_batch", "quickstart", "ridge", "sobol", "square",
                                           "zip"),
                         [](const auto& p) { return p.param; });

// The README's first analysis step, and the labels it relies on: rho and sigma are coordinates,
// beta a scalar coordinate, and selecting by value gives the values h5py reads by index.
TEST(ReadersTest, QuickstartSelectsByLabelInXarray) {
  TempDir dir;
  ASSERT_EQ(
      RunSweep({"run", SourcePath("configs/quickstart.yaml"), "-q", "-o", dir / "q.h5"}, dir.path())
          .code,
      0);
  testing::WriteFile(dir / "sel.py", R"(import sys, numpy as np, xarray as xr
ds = xr.open_dataset(sys.argv[1], engine='h5netcdf')
assert ds.sizes['rho'] == 101 and ds.sizes['sigma'] == 3, dict(ds.sizes)
assert float(ds.beta) == 8 / 3
picked = ds.lyapunov.sel(rho=28, method='nearest')
assert float(picked.rho) == 28.0
assert list(picked.sigma.values) == [10, 14, 18]
print(' '.join(repr(float(x)) for x in picked.values))
)");
  ASSERT_EQ(Shell(std::string(kPython) + " " + dir / "sel.py" + " " + dir / "q.h5" + " > " +
                  dir / "sel.txt"),
            0);
  // rho = 28 is index 56 of linspace(0, 50, 101): the row h5py would read.
  const std::vector<double> lyapunov = ReadDataset<double>(dir / "q.h5", "/lyapunov");
  std::istringstream picked(testing::ReadFile(dir / "sel.txt"));
  for (int s = 0; s < 3; ++s) {
    double value = 0;
    picked >> value;
    EXPECT_EQ(value, lyapunov[56 * 3 + size_t(s)]) << "sigma index " << s;
  }
}

// A zip group is one dimension named like a Python identifier, its members coordinates on it.
TEST(ReadersTest, ZipGroupIsOneDimensionWithItsMembersAsCoordinates) {
  TempDir dir;
  ASSERT_EQ(
      RunSweep({"run", SourcePath("configs/zip.yaml"), "-q", "-o", dir / "z.h5"}, dir.path()).code,
      0);
  testing::WriteFile(dir / "zip.py", R"(import sys, xarray as xr
ds = xr.open_dataset(sys.argv[1], engine='h5netcdf')
assert ds.lyapunov.dims == ('rho', 'sigma_beta'), ds.lyapunov.dims
assert ds.sigma.dims == ('sigma_beta',) and ds.beta.dims == ('sigma_beta',)
assert 'sigma' in ds.coords and 'beta' in ds.coords
print('ok')
)");
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "zip.py" + " " + dir / "z.h5"), 0);
}

// A sampled parameter longer than what is written at creation is written with the chunks
// (driver/output_filler.h): once done, /x holds, for every sample, the x the kernel squared,
// also with replicates, where a sample spans two points and possibly two chunks.
TEST(ReadersTest, DeferredParametersHoldWhatTheKernelSaw) {
  TempDir dir;
  testing::WriteFile(dir / "sampled.yaml",
                     "name: sampled\nseed: 5\nkernel: {name: square}\n"
                     "parameters:\n  x: {uniform: [0, 1]}\n"
                     "sampling: {method: sobol, n: 70001}\nrepeat: 2\n"
                     "execution: {chunk_size: 999}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", dir / "sampled.yaml", "-q", "-j", "2"}, dir.path()).code, 0);
  const std::vector<double> x = ReadDataset<double>(dir / "out.h5", "/x");
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  const std::vector<int64_t> sample = ReadDataset<int64_t>(dir / "out.h5", "/sample");
  ASSERT_EQ(x.size(), 70001u);
  ASSERT_EQ(y.size(), 2u * 70001);
  ASSERT_EQ(sample.size(), 70001u);
  uint64_t wrong = 0;
  for (size_t k = 0; k < x.size(); ++k) {
    wrong += !(sample[k] == int64_t(k) && x[k] >= 0 && x[k] < 1 && y[2 * k] == x[k] * x[k] &&
               y[2 * k + 1] == x[k] * x[k]);
  }
  EXPECT_EQ(wrong, 0u);
}

// A sweep of one point (every parameter a constant) has no sweep dimension: its outputs are
// scalars (or their own shape), its parameters scalar coordinates, for xarray and ncdump alike,
// and every command that reads an output takes it.
TEST(ReadersTest, AOnePointSweepHasNoDimensionAndScalarOutputs) {
  TempDir dir;
  testing::WriteFile(dir / "one.yaml",
                     "name: one\nkernel: {name: square}\nparameters: {x: 3, label: \"a\"}\n"
                     "output: {path: out.h5}\n");
  const RunResult plan = RunSweep({"plan", "one.yaml"}, dir.path());
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("one: kernel square, 1 points"), std::string::npos) << plan.out;
  const RunResult run = RunSweep({"run", "one.yaml", "-q"}, dir.path());
  ASSERT_EQ(run.code, 0) << run.err;
  testing::WriteFile(dir / "one.py", R"(import sys, numpy as np, xarray as xr
ds = xr.open_dataset(sys.argv[1], engine='h5netcdf')
assert dict(ds.sizes) == {}, dict(ds.sizes)
assert ds.y.dims == () and float(ds.y) == 9.0, ds.y
assert ds.x.dims == () and int(ds.x) == 3 and 'x' in ds.coords
assert str(ds.label.values) == 'a'
assert len(np.atleast_1d(ds.attrs['sweep_dims'])) == 0 or list(ds.attrs['sweep_dims']) == []
chunks = xr.open_dataset(sys.argv[1], engine='h5netcdf', group='chunks')
assert list(chunks.status.values) == [1]
print('ok')
)");
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "one.py" + " " + dir / "out.h5"), 0);
  ASSERT_EQ(Shell("ncdump " + dir / "out.h5" + " > " + dir / "dump.txt"), 0);
  const std::string dump = testing::ReadFile(dir / "dump.txt");
  EXPECT_NE(dump.find("\tdouble y ;"), std::string::npos) << dump;
  EXPECT_NE(dump.find(" y = 9 ;"), std::string::npos) << dump;
  EXPECT_NE(dump.find(" x = 3 ;"), std::string::npos) << dump;
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"status", "out.h5"},
                                             {"export", "out.h5", "-o", "one.csv"},
                                             {"export", "out.h5", "--chunks"},
                                             {"report", "out.h5"},
                                             {"resume", "out.h5", "-q"},
                                             {"rerun", "out.h5", "--points", "0", "-q"}}) {
    const RunResult r = RunSweep(args, dir.path());
    EXPECT_EQ(r.code, 0) << args[0] << ": " << r.err;
  }
  const std::string csv = testing::ReadFile(dir / "one.csv");
  EXPECT_EQ(csv.rfind("point,x,label,seed,y\n0,3,a,", 0), 0u) << csv;
  EXPECT_EQ(csv.substr(csv.size() - 5), ",9.0\n") << csv;
  EXPECT_TRUE(std::filesystem::exists(dir / "out.h5.report.html"));
}

// An output that cannot fit on its filesystem is refused before anything is written.
TEST(ReadersTest, AnOutputLargerThanTheDiskIsRefusedWritingNothing) {
  TempDir dir;
  testing::WriteFile(dir / "huge.yaml",
                     "name: huge\nkernel: {name: square}\n"
                     "parameters:\n  x: {range: [0, 140737488355328]}\n"  // 2^47 points, 1 PiB
                     "output: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", dir / "huge.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 2) << r.err;
  // The file's size (the results and the coordinate x, 16 bytes a point), as `plan` says it, in
  // one formatter: not "1048576.0 GiB" for the results alone while plan says "2.0 PiB".
  EXPECT_NE(r.err.find("out.h5: the output needs 2.0 PiB but its filesystem has"),
            std::string::npos)
      << r.err;
  const RunResult plan = RunSweep({"plan", dir / "huge.yaml"}, dir.path());
  EXPECT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("/out.h5: 2.0 PiB ("), std::string::npos) << plan.out;
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    const std::string name = entry.path().filename();
    if (name.rfind("stdout-", 0) != 0 && name.rfind("stderr-", 0) != 0) left.push_back(name);
  }
  EXPECT_EQ(left, std::vector<std::string>{"huge.yaml"});
}

// An output whose attributes or /chunks disagree with each other (damaged on disk, or edited) is
// refused by every command that reads it, in one line naming what disagrees, exit 1: never a
// SIGFPE (chunk_size 0), a segfault (export --chunks with chunk_size 3) or a wrong count.
TEST(ReadersTest, DamagedAttributesAreRefusedByEveryReaderNamingThem) {
  TempDir dir;
  testing::WriteFile(dir / "c.yaml",
                     "name: c\nkernel: {name: square}\nparameters: {x: {linspace: [0, 1, 300]}}\n"
                     "output: {path: good.h5}\n");
  ASSERT_EQ(RunSweep({"run", "c.yaml", "-q", "--chunk-size", "10"}, dir.path()).code, 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"f.attrs.modify('chunk_size', np.uint64(0))", "attribute chunk_size is 0"},
      {"f.attrs.modify('chunk_size', np.uint64(3))",
       "attributes points (300), chunk_size (3) and chunks (30) disagree: 300 points in chunks of "
       "3 make 100 chunks"},
      {"f.attrs.modify('chunk_size', np.uint64(2**64 - 1))",
       "attributes points (300), chunk_size (18446744073709551615) and chunks (30) disagree"},
      {"f.attrs.modify('points', np.uint64(0))", "attribute points is 0"},
      {"f.attrs.modify('points', np.uint64(291)); f.attrs.modify('chunks', np.uint64(30))",
       "the sizes of the dimensions attribute sweep_dims names (300) do not multiply to attribute "
       "points (291)"},
      {"f['chunks/first'][5] = 7",
       "/chunks/first of chunk 5 is 7, but attributes points (300) and chunk_size (10) make it "
       "50"},
      {"f['chunks/count'][29] = 11",
       "/chunks/count of chunk 29 is 11, but attributes points (300) and chunk_size (10) make it "
       "10"},
      {"del f['chunks/status']; f['chunks'].create_dataset('status', (29,), 'u1')",
       "status is not contiguous storage of 30 elements"},
      {"f.attrs['sweep_dims'] = np.array(['x', 'x'], dtype=h5py.string_dtype())",
       "attribute sweep_dims names /x twice"}};
  for (const auto& [edit, message] : cases) {
    SCOPED_TRACE(edit);
    std::filesystem::copy_file(dir / "good.h5", dir / "out.h5",
                               std::filesystem::copy_options::overwrite_existing);
    testing::WriteFile(dir / "edit.py",
                       "import h5py, numpy as np\nwith h5py.File('out.h5', 'r+') "
                       "as f:\n    " +
                           edit + "\n");
    ASSERT_EQ(Shell("cd " + dir.path() + " && " + kPython + " edit.py"), 0);
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"status", "out.h5"},
                                               {"status", "out.h5", "--json"},
                                               {"export", "out.h5"},
                                               {"export", "out.h5", "--chunks"},
                                               {"report", "out.h5"},
                                               {"resume", "out.h5"},
                                               {"rerun", "out.h5", "--failed"}}) {
      const RunResult r = RunSweep(args, dir.path());
      EXPECT_EQ(r.code, 1) << args[0] << ": " << r.err;
      EXPECT_NE(r.err.find(": damaged sweep output file: " + message), std::string::npos)
          << args[0] << ": " << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
  }
}

// A file of the previous format: every command that reads an output refuses it in one line that
// says what to do, exit 2, and leaves it as it was.
TEST(ReadersTest, EveryCommandRefusesAFormatOneFileSayingWhatToDo) {
  TempDir dir;
  const std::string old = dir / "old.h5";
  testing::WriteFile(dir / "make.py",
                     "import sys, h5py\n"
                     "with h5py.File(sys.argv[1], 'w') as f:\n"
                     "    f.attrs['format'] = 'sweep/1'\n"
                     "    f.create_group('results')\n");
  ASSERT_EQ(Shell(std::string(kPython) + " " + dir / "make.py" + " " + old), 0);
  const std::string before = testing::ReadFile(old);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"status", old},
                                             {"resume", old},
                                             {"rerun", old, "--failed"},
                                             {"export", old, "--chunks"},
                                             {"report", old}}) {
    const RunResult r = RunSweep(args, dir.path());
    EXPECT_EQ(r.code, 2) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("output format 'sweep/1'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("sweep run CONFIG --force"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(testing::ReadFile(old), before);
  EXPECT_FALSE(std::filesystem::exists(old + ".journal"));
}

}  // namespace
}  // namespace sweep
