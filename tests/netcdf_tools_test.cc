// The output file in every netCDF tool a climate or physics user reaches for, run for real on a
// shipped config's output, a killed run and a run with failed points: ncdump, netCDF4-python,
// xarray with both engines, NCO (ncks -m, a subset with ncks -v -d that keeps its coordinates,
// ncwa that averages as xarray's skipna mean does) and CDO (sinfo, fldmean). Also the CF checker
// (tests/cf_check.py) on each, and that it fails where a rule is broken; string parameters in NCO
// and CDO; the README's live-reading recipe (scripts/poll_live.py) on a live run; and an output of
// the previous format, which status, resume, export and report still read.
// scripts/setup installs the tools (nco, cdo, netcdf-bin, python3-netcdf4, udunits-bin).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

using testing::Gate;
using testing::kPython;
using testing::ReadDataset;
using testing::ReadFile;
using testing::RunResult;
using testing::RunSweep;
using testing::Shell;
using testing::SourcePath;
using testing::SweepProcess;
using testing::WaitUntil;
using testing::WriteFile;

// Every tool on FILE, for output VAR over the sweep axis AXIS; prints what it did, one line a tool,
// and fails (exit 1) at the first tool that disagrees.
const char* kToolsScript = R"(import subprocess, sys
import netCDF4, numpy as np, xarray as xr
path, var, axis, work = sys.argv[1:5]

def run(*argv):
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, (argv, done.returncode, done.stderr[-2000:])
    return done

run('ncdump', '-h', path)
print('ncdump -h ok')
with netCDF4.Dataset(path) as nc:
    masked = nc[var][...]
    missing_nc = int(np.ma.count_masked(masked))
    assert nc.Conventions == 'CF-1.8', nc.Conventions
print('netCDF4-python ok', missing_nc, 'missing')
values = {}
for engine in ('netcdf4', 'h5netcdf'):
    with xr.open_dataset(path, engine=engine) as ds:
        values[engine] = ds[var].load()
        assert int(values[engine].isnull().sum()) == missing_nc, (engine, missing_nc)
        assert str(ds.attrs['Conventions']) == 'CF-1.8'
xr.testing.assert_identical(values['netcdf4'], values['h5netcdf'])
print('xarray netcdf4 and h5netcdf ok')
run('ncks', '-m', path)
print('ncks -m ok')
# A subset by index keeps every coordinate its variable names (NCO reads `coordinates`).
sub = work + '/sub.nc'
run('ncks', '-O', '-v', var, '-d', f'{axis},0,1', path, sub)
with netCDF4.Dataset(path) as nc, netCDF4.Dataset(sub) as cut:
    names = getattr(nc[var], 'coordinates', '').split()
    kept = [n for n in names if n in cut.variables]
    assert kept == names, ('ncks dropped coordinates', names, kept)
    cut_size = cut[var].shape[cut[var].dimensions.index(axis)]
    assert cut_size == 2, (cut[var].dimensions, cut[var].shape)
print('ncks -v -d ok, kept', names)
# ncwa's mean over AXIS is xarray's mean over the points computed.
mean = work + '/mean.nc'
run('ncwa', '-O', '-a', axis, '-v', var, path, mean)
with netCDF4.Dataset(mean) as nc:
    nco = np.ma.filled(nc[var][...].astype(float), np.nan)
expected = values['h5netcdf'].mean(axis, skipna=True).values
assert nco.shape == expected.shape, (nco.shape, expected.shape)
assert np.array_equal(np.isnan(nco), np.isnan(expected)), (nco, expected)
assert np.allclose(nco[~np.isnan(nco)], expected[~np.isnan(expected)], rtol=1e-12, atol=0), \
    (nco, expected)
print('ncwa -a', axis, 'ok:', int((~np.isnan(expected)).sum()), 'means')
info = run('cdo', '-s', 'sinfo', path)
assert var in info.stdout or 'F64' in info.stdout, info.stdout
print('cdo sinfo ok')
)";

// Runs the tools and the CF checker on `file`; their output on failure.
void ExpectEveryToolReads(const TempDir& dir, const std::string& file, const std::string& var,
                          const std::string& axis) {
  WriteFile(dir / "tools.py", kToolsScript);
  const std::string log = dir / "tools.txt";
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "tools.py" + " " + file + " " + var + " " +
                  axis + " " + dir.path() + " > " + log + " 2>&1"),
            0)
      << ReadFile(log);
  EXPECT_EQ(Shell(std::string(kPython) + " " + SourcePath("tests/cf_check.py") + " " + file +
                  " > " + log + " 2>&1"),
            0)
      << ReadFile(log);
}

// A sweep of `faulty` over a grid i x x with a constant c (an auxiliary coordinate), in chunks of
// 3 points on 2 workers; `options` are more of faulty's options.
std::string GridConfig(const TempDir& dir, const std::string& options) {
  const std::string path = dir / "grid.yaml";
  WriteFile(path, "name: grid\nseed: 5\nkernel: {name: faulty, options: {seeded: 1" +
                      (options.empty() ? "" : ", " + options) +
                      "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\nparameters:\n"
                      "  i: {range: [0, 12]}\n  x: {values: [1.5, 2.5, 3.5]}\n  c: 3\n"
                      "execution: {workers: 2, chunk_size: 3}\noutput: {path: out.h5}\n"
                      "attributes: {y: {units: s-1, long_name: growth rate}, i: {units: \"1\"}}\n");
  return path;
}

TEST(NetcdfToolsTest, AShippedConfigsOutput) {
  TempDir dir;
  ASSERT_EQ(
      RunSweep({"run", SourcePath("configs/quickstart.yaml"), "-q", "-o", dir / "q.h5"}, dir.path())
          .code,
      0);
  ExpectEveryToolReads(dir, dir / "q.h5", "lyapunov", "rho");
}

// A run killed (SIGKILL) with half its chunks done: every tool reads the points done and takes
// the others for missing; ncwa averages exactly the done points, as xarray's skipna mean does.
TEST(NetcdfToolsTest, AKilledRun) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run", GridConfig(dir, gate.Options(6)), "-q"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();  // i < 6 done, one held point on each worker
  // Every pending point reads as missing once the driver has written their fill values (the
  // background pass, io/output_file.h): none is a hole (0) any more.
  double fill = 0;
  ASSERT_TRUE(WaitUntil([&] {
    const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
    fill = y.empty() ? 0 : y.back();
    return y.size() == 36 && std::count(y.begin(), y.end(), 0.0) == 0;
  }));
  run.Signal(SIGKILL);
  run.Wait();
  EXPECT_EQ(fill, 9.9692099683868690e+36);
  ExpectEveryToolReads(dir, dir / "out.h5", "y", "i");
  ExpectEveryToolReads(dir, dir / "out.h5", "y", "x");
  // CDO's mean over the 2-D field (i, x) is the mean of the done points too.
  WriteFile(dir / "cdo.py", R"(import subprocess, sys, netCDF4, numpy as np, xarray as xr
path, out = sys.argv[1], sys.argv[2]
subprocess.run(['cdo', '-s', '-O', 'fldmean', '-selname,y', path, out], check=True)
with netCDF4.Dataset(out) as nc:
    cdo = float(np.ma.filled(nc['y'][...].astype(float), np.nan).reshape(-1)[0])
expected = float(xr.open_dataset(path).y.mean(skipna=True))
assert abs(cdo - expected) <= 1e-12 * abs(expected), (cdo, expected)
print('cdo fldmean ok', cdo)
)");
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "cdo.py " + dir / "out.h5 " +
                  dir / "fldmean.nc > " + dir / "cdo.txt 2>&1"),
            0)
      << ReadFile(dir / "cdo.txt");
}

// A run whose points at i = 7 fail (exit 3): their chunks read as missing in every tool.
TEST(NetcdfToolsTest, ARunWithFailedPoints) {
  TempDir dir;
  const RunResult r = RunSweep({"run", GridConfig(dir, "error_at: 7"), "-q"}, dir.path());
  ASSERT_EQ(r.code, 3) << r.err;
  ExpectEveryToolReads(dir, dir / "out.h5", "y", "i");
}

// A string parameter is netCDF text (a char table): xarray still selects by it, NCO averages
// over it and converts the file to netCDF-3, CDO reads the file.
TEST(NetcdfToolsTest, AStringParameterInXarrayNcoAndCdo) {
  TempDir dir;
  WriteFile(dir / "modes.yaml",
            "name: modes\nkernel: {name: lorenz, options: {steps: 200, dt: 0.005, transient: "
            "0.5}}\nparameters:\n  rho: {linspace: [10, 30, 3]}\n  mode: {values: [a, bb, "
            "\"é\"]}\n  sigma: 10\n  beta: 2.5\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", dir / "modes.yaml", "-q"}, dir.path()).code, 0);
  ExpectEveryToolReads(dir, dir / "out.h5", "lyapunov", "mode");
  WriteFile(dir / "sel.py", R"(import sys, subprocess, numpy as np, xarray as xr, netCDF4
path = sys.argv[1]
for engine in ('netcdf4', 'h5netcdf'):
    ds = xr.open_dataset(path, engine=engine)
    assert list(ds.mode.values) == ['a', 'bb', 'é'], ds.mode.values
    assert ds.lyapunov.sel(mode='bb').dims == ('rho',)
    assert float(ds.lyapunov.sel(mode='é', rho=20)) == float(ds.lyapunov[1, 2])
subprocess.run(['ncks', '-O', '-3', path, sys.argv[2]], check=True, capture_output=True)
with netCDF4.Dataset(sys.argv[2]) as nc:
    assert nc.data_model == 'NETCDF3_CLASSIC', nc.data_model
print('ok')
)");
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "sel.py " + dir / "out.h5 " +
                  dir / "classic.nc > " + dir / "sel.txt 2>&1"),
            0)
      << ReadFile(dir / "sel.txt");
}

// The README's selections by a zipped or a sampled parameter, which are coordinates on their
// dimension and not its index: `where`, or `set_index` then `sel`.
TEST(NetcdfToolsTest, SelectingByAZippedOrSampledParameter) {
  TempDir dir;
  ASSERT_EQ(
      RunSweep({"run", SourcePath("configs/zip.yaml"), "-q", "-o", dir / "z.h5"}, dir.path()).code,
      0);
  ASSERT_EQ(
      RunSweep({"run", SourcePath("configs/sobol.yaml"), "-q", "-o", dir / "s.h5"}, dir.path())
          .code,
      0);
  WriteFile(dir / "select.py", R"(import sys, numpy as np, xarray as xr
ds = xr.open_dataset(sys.argv[1])
picked = ds.lyapunov.where(ds.sigma == 12, drop=True)
assert picked.sizes['sigma_beta'] == 1, picked.sizes
indexed = ds.set_index(sigma_beta="sigma").sel(sigma_beta=12)
assert float(indexed.beta) == 2.6666666666666665, float(indexed.beta)
np.testing.assert_array_equal(picked.squeeze('sigma_beta').values, indexed.lyapunov.values)
np.testing.assert_array_equal(indexed.lyapunov.values, ds.lyapunov[:, 1].values)
s = xr.open_dataset(sys.argv[2])
low = s.lyapunov.where(s.rho < 25, drop=True)
assert 0 < low.sizes['sample'] < 256 and bool((low.rho < 25).all()), low.sizes
np.testing.assert_array_equal(low.values, s.lyapunov.values[s.rho.values < 25])
print('ok')
)");
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "select.py " + dir / "z.h5 " +
                  dir / "s.h5 > " + dir / "select.txt 2>&1"),
            0)
      << ReadFile(dir / "select.txt");
}

// The checker can fail: a file breaking each rule is refused, naming the rule.
TEST(CfCheckerTest, EachRuleItChecksCanFail) {
  TempDir dir;
  WriteFile(dir / "bad.py", R"(import sys, numpy as np, netCDF4
def make(path, conventions='CF-1.8', units='1', coordinate=(1.0, 2.0, 3.0), fill=False,
         coordinates='c', meanings='pending done failed'):
    with netCDF4.Dataset(path, 'w') as nc:
        if conventions: nc.Conventions = conventions
        nc.createDimension('x', 3)
        x = nc.createVariable('x', 'f8', ('x',), fill_value=(-1.0 if fill else False))
        x[:] = coordinate
        nc.createVariable('c', 'f8', ())
        y = nc.createVariable('y', 'f8', ('x',))
        y.units = units
        y.coordinates = coordinates
        s = nc.createVariable('s', 'u1', ('x',))
        s.flag_values = np.array([0, 1, 2], 'u1')
        s.flag_meanings = meanings
d = sys.argv[1]
make(d + '/good.nc')
make(d + '/conventions.nc', conventions='')
make(d + '/units.nc', units='furlongs per fortnight squared')
make(d + '/coordinate.nc', coordinate=(1.0, 3.0, 2.0))
make(d + '/fill.nc', fill=True)
make(d + '/coordinates.nc', coordinates='c nowhere')
make(d + '/flags.nc', meanings='pending done')
)");
  ASSERT_EQ(Shell(std::string(kPython) + " " + dir / "bad.py " + dir.path()), 0);
  const std::string check = std::string(kPython) + " " + SourcePath("tests/cf_check.py") + " ";
  EXPECT_EQ(Shell(check + dir / "good.nc > /dev/null"), 0);
  for (const char* rule : {"conventions", "units", "coordinate", "coordinates", "flags"}) {
    const std::string log = dir / (std::string(rule) + ".txt");
    EXPECT_EQ(Shell(check + dir / (std::string(rule) + ".nc") + " > " + log), 1) << rule;
    EXPECT_NE(ReadFile(log).find(std::string(": ") + rule + ": "), std::string::npos)
        << ReadFile(log);
  }
  EXPECT_EQ(Shell(check + dir / "fill.nc > " + dir / "fill.txt"), 1);
  EXPECT_NE(ReadFile(dir / "fill.txt").find("with a _FillValue"), std::string::npos);
}

// The README's recipe for watching a live run (scripts/poll_live.py): it opens the file afresh at
// each poll, so it sees the run move on, and ends when every chunk is done.
TEST(NetcdfToolsTest, TheLiveReadingRecipeSeesARunProgress) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run", GridConfig(dir, gate.Options(6)), "-q"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
  const std::string log = dir / "poll.txt";
  const std::string poll = std::string(kPython) + " " + SourcePath("scripts/poll_live.py") + " " +
                           dir / "out.h5" + " --interval 0.05 > " + log + " 2>&1";
  std::thread poller([&] { EXPECT_EQ(Shell(poll), 0) << ReadFile(log); });
  // The recipe has seen the held state (the chunks of i < 6 done), then the gate opens.
  EXPECT_TRUE(WaitUntil([&] {
    return ReadFile(log).find("done 6/12 chunks") != std::string::npos;
  })) << ReadFile(log);
  gate.Open();
  poller.join();
  EXPECT_EQ(run.Wait(), 0) << run.err();
  const std::string seen = ReadFile(log);
  EXPECT_NE(seen.find("done 12/12 chunks"), std::string::npos) << seen;
  EXPECT_NE(seen.find("mean y"), std::string::npos) << seen;
}

// An output of the previous format (sweep/2: NaN for missing, strings as NC_STRING, text
// attributes NC_STRING) is still read: status, export and report, and resume finishes it with its
// own missing value, to the values a fresh run gives.
TEST(NetcdfToolsTest, AnOutputOfThePreviousFormatStillWorks) {
  TempDir dir;
  const std::string old = dir / "old.h5";
  std::filesystem::copy_file(SourcePath("tests/data/format2/lorenz_small.h5"), old);
  // As a killed run left it: chunks 2 to 4 pending, their rows NaN.
  WriteFile(dir / "kill.py", R"(import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'r+') as f:
    assert f.attrs['format'] == 'sweep/2'
    f['chunks/status'][2:] = 0
    for name in ('state', 'z_mean', 'lyapunov'):
        v = f[name][...]
        v.reshape(10, -1)[4:] = np.nan
        f[name][...] = v
)");
  ASSERT_EQ(Shell(std::string(kPython) + " " + dir / "kill.py " + old), 0);
  const RunResult status = RunSweep({"status", old, "--json"}, dir.path());
  ASSERT_EQ(status.code, 0) << status.err;
  const nlohmann::json s = nlohmann::json::parse(status.out);
  EXPECT_EQ(s["pending"].get<int>(), 3) << status.out;
  const RunResult exported = RunSweep({"export", old, "-o", dir / "old.csv"}, dir.path());
  EXPECT_EQ(exported.code, 0) << exported.err;
  EXPECT_NE(ReadFile(dir / "old.csv").find("mode"), std::string::npos);
  const RunResult report = RunSweep({"report", old, "-o", dir / "old.html"}, dir.path());
  EXPECT_EQ(report.code, 0) << report.err;
  // --force: the stored fingerprint names the sweep version that made the file, which moves on.
  const RunResult resumed = RunSweep({"resume", old, "-q", "--force"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  // The same results as a run of the same config today, and NaN still its missing value.
  std::filesystem::copy_file(SourcePath("tests/data/format2/lorenz_small.yaml"),
                             dir / "lorenz_small.yaml");
  ASSERT_EQ(
      RunSweep({"run", dir / "lorenz_small.yaml", "-q", "-o", dir / "new.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ReadDataset<double>(old, "/lyapunov"),
            ReadDataset<double>(dir / "new.h5", "/lyapunov"));
  WriteFile(dir / "fill.py", R"(import sys, h5py, numpy as np
with h5py.File(sys.argv[1], 'r') as f:
    assert f.attrs['format'] == 'sweep/2' and np.isnan(f['lyapunov'].attrs['_FillValue'])
)");
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "fill.py " + old), 0);
}

}  // namespace
}  // namespace sweep
