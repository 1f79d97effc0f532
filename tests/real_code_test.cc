// Real codes nobody here wrote, swept as a new user sweeps them: LAMMPS (Debian `lammps`, a
// Lennard-Jones fluid over temperature and density) and ngspice (Debian `ngspice`, an RC filter's
// -3 dB frequency against 1/(2 pi R C)). `scripts/setup --real-codes` installs both (CI does);
// where one is missing its tests skip, saying so, and scripts/test fails on a skip in CI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/space.h"
#include "io/config.h"
#include "kernels/command_template.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

#define SKIP_WITHOUT(program)                                       \
  if (access("/usr/bin/" program, X_OK) != 0)                       \
  GTEST_SKIP() << "needs /usr/bin/" program                         \
                  ": `scripts/setup --real-codes` installs it (CI " \
                  "does)"

// An LJ fluid at temperature T and density rho, 500 atoms: the thermostat holds T, the pressure
// grows with density. LAMMPS's own variables are written ${{name}}: sweep passes ${name} on. It
// prints temp and press after each of two segments: the last counts.
const char kLammpsInput[] =
    "# LJ fluid, rendered by sweep for point {point}\n"
    "units           lj\n"
    "atom_style      atomic\n"
    "variable        T equal {T}\n"
    "lattice         fcc {density}\n"
    "region          box block 0 5 0 5 0 5\n"
    "create_box      1 box\n"
    "create_atoms    1 box\n"
    "mass            1 1.0\n"
    "velocity        all create ${{T}} {seed31} dist gaussian\n"
    "pair_style      lj/cut 2.5\n"
    "pair_coeff      1 1 1.0 1.0 2.5\n"
    "neighbor        0.3 bin\n"
    "fix             1 all nvt temp ${{T}} ${{T}} 0.5\n"
    "thermo          100\n"
    "variable        t equal temp\n"
    "variable        p equal press\n"
    "run             300\n"
    "print           \"temp ${{t}}\"\n"
    "print           \"press ${{p}}\"\n"
    "run             700\n"
    "print           \"temp ${{t}}\"\n"
    "print           \"press ${{p}}\"\n";

std::string LammpsConfig(const std::string& parameters, const std::string& outputs,
                         const std::string& keep) {
  return "name: lj\nseed: 2024\nkernel:\n"
         "  command: [lmp, -in, in.lammps]\n"
         "  files: {in.lammps: lj.in}\n"
         "  env: {OMP_NUM_THREADS: 1}\n"
         "  outputs: " +
         outputs + "\n  workdir: {keep: " + keep + "}\n" + "parameters:\n" + parameters +
         "execution: {workers: 2, chunk_size: 1, timeout: 10m}\noutput: {path: out.h5}\n";
}

TEST(RealCodeTest, LammpsTemplateWithEscapesAndA31BitSeed) {
  SKIP_WITHOUT("lmp");
  TempDir dir;
  WriteFile(dir / "lj.in", kLammpsInput);
  WriteFile(dir / "c.yaml",
            LammpsConfig("  T: {values: [1.0, 1.5]}\n  density: {values: [0.7, 0.85]}\n",
                         "{temp: float64, press: float64}", "always"));
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<double> temp = ReadDataset<double>(dir / "out.h5", "/temp");
  const std::vector<double> press = ReadDataset<double>(dir / "out.h5", "/press");
  ASSERT_EQ(temp.size(), 4u);
  const double T[] = {1.0, 1.0, 1.5, 1.5};
  for (size_t p = 0; p < 4; ++p) {
    // The thermostat's temperature, within the fluctuations of 500 atoms.
    EXPECT_NEAR(temp[p], T[p], 0.2 * T[p]) << "point " << p;
  }
  // Denser is higher pressure, at either temperature; hotter is higher at either density.
  EXPECT_GT(press[1], press[0]);
  EXPECT_GT(press[3], press[2]);
  EXPECT_GT(press[2], press[0]);
  // What LAMMPS read: its own ${T}, and a seed it accepts (a 64-bit one it refuses).
  const Space space(LoadConfig(dir / "c.yaml"));
  for (uint64_t p = 0; p < 4; ++p) {
    const std::string input =
        ReadFile(dir / "out.h5.work/point-" + std::to_string(p) + "/in.lammps");
    const uint32_t seed = Seed31(space.Seed(p));
    EXPECT_TRUE(Contains(
        input, "velocity        all create ${T} " + std::to_string(seed) + " dist gaussian\n"))
        << input;
    EXPECT_TRUE(Contains(input, "fix             1 all nvt temp ${T} ${T} 0.5\n")) << input;
    EXPECT_TRUE(Contains(input, "print           \"temp ${t}\"\n")) << input;
    EXPECT_GE(seed, 1u);
    EXPECT_LE(seed, 2147483647u);
    // Both segments printed temp: the second, which LAMMPS printed last, is the one stored.
    const std::string out =
        ReadFile(dir / "out.h5.work/point-" + std::to_string(p) + "/stdout.txt");
    const size_t last = out.rfind("\ntemp ");
    ASSERT_NE(last, std::string::npos) << out;
    EXPECT_NE(out.rfind("\ntemp ", last - 1), std::string::npos) << "printed once only";
    EXPECT_EQ(std::stod(out.substr(last + 6)), temp[p]);
  }

  // The same template with LAMMPS's ${T} written as it was: validate names the line and column.
  std::string unescaped = kLammpsInput;
  unescaped.replace(unescaped.find("${{T}} {seed31}"), 6, "${T}");
  WriteFile(dir / "lj.in", unescaped);
  const RunResult refused = RunSweep({"validate", "c.yaml"}, dir.path());
  EXPECT_EQ(refused.code, 2);
  EXPECT_TRUE(Contains(refused.err, dir / "lj.in" + ":10:28: kernel.files.in.lammps: `${T}` looks "
                                                    "like the program's own variable syntax"))
      << refused.err;
  EXPECT_TRUE(Contains(refused.err,
                       "write `${{T}}` to pass `${T}` on as it is, or `{T}` without "
                       "the `$` for the value"))
      << refused.err;
}

// What users met: LAMMPS writes its ERROR on stdout and Open MPI its MPI_ABORT on stderr. The
// reason quotes LAMMPS's line first, and the kept directory holds both streams whole.
TEST(RealCodeTest, LammpsFailedPointQuotesItsErrorAndKeepsBothStreams) {
  SKIP_WITHOUT("lmp");
  TempDir dir;
  // Prints one of its own variables, chosen per point; `kinetic` is not one of them.
  WriteFile(dir / "lj.in",
            "units lj\natom_style atomic\nlattice fcc 0.8\nregion box block 0 3 0 3 0 3\n"
            "create_box 1 box\ncreate_atoms 1 box\nmass 1 1.0\n"
            "velocity all create 1.0 {seed31}\npair_style lj/cut 2.5\npair_coeff 1 1 1.0 1.0 2.5\n"
            "variable temp equal temp\nvariable press equal press\nrun 10\n"
            "print \"value ${{{observable}}}\"\n");
  WriteFile(dir / "c.yaml", LammpsConfig("  observable: {values: [temp, kinetic, press]}\n",
                                         "{value: float64}", "failed"));
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 3) << r.err;
  const nlohmann::json status = StatusJson(dir);
  ASSERT_EQ(status["failures"].size(), 1u) << status.dump(1);
  const nlohmann::json& failure = status["failures"][0];
  EXPECT_EQ(failure["point"], 1);
  const std::string reason = failure["reason"];
  EXPECT_EQ(reason.rfind("command `lmp`: failed with exit code 1; stdout: ERROR on proc 0: "
                         "Substitution for illegal variable kinetic",
                         0),
            0u)
      << reason;
  // Then Open MPI's words (MPI_ABORT, or its runtime's own complaint as the program's group goes).
  const size_t stderr_quote = reason.find("; stderr: ");
  ASSERT_NE(stderr_quote, std::string::npos) << reason;
  // The output file's table keeps a reason's first 256 bytes: LAMMPS's words are among them.
  const std::string kept = dir / "out.h5.work/point-1";
  EXPECT_EQ(failure["workdir"], kept);
  EXPECT_EQ(failure["streams"], nlohmann::json({kept + "/stdout.txt", kept + "/stderr.txt"}));
  EXPECT_TRUE(Contains(ReadFile(kept + "/stdout.txt"),
                       "ERROR on proc 0: Substitution for illegal variable kinetic"));
  EXPECT_TRUE(Contains(ReadFile(kept + "/stdout.txt"), "LAMMPS ("));  // from its first line on
  const std::string err = ReadFile(kept + "/stderr.txt");
  EXPECT_FALSE(err.empty());
  EXPECT_TRUE(Contains(err, "MPI") || Contains(err, "ORTE")) << err;
  EXPECT_TRUE(Contains(r.err,
                       "point 1 (observable=kinetic): command `lmp`: failed with exit "
                       "code 1; stdout: ERROR on proc 0"))
      << r.err;
  const std::vector<double> value = ReadDataset<double>(dir / "out.h5", "/value");
  ASSERT_EQ(value.size(), 3u);
  EXPECT_GT(value[0], 0.5);              // temp, near the 1.0 it started at
  EXPECT_EQ(value[1], kMissingFloat64);  // the failed point keeps the fill value
}

// An RC low-pass filter: the netlist's R and C come from the sweep, ngspice measures the -3 dB
// frequency and writes it, with the Bode curve as columns, into a results file.
TEST(RealCodeTest, NgspiceMeasurementThroughAResultsFile) {
  SKIP_WITHOUT("ngspice");
  TempDir dir;
  WriteFile(dir / "rc.cir",
            "RC low-pass filter, point {point}\n"
            "V1 in 0 DC 0 AC 1\n"
            "R1 in out {R}\n"
            "C1 out 0 {C}\n"
            ".control\n"
            "set noaskquit\n"
            "ac dec 15 1e2 1e6\n"
            "meas ac f3db when vdb(out)=-3.0103\n"
            "let gain_db = vdb(out)\n"
            "set wr_vecnames\n"
            "set wr_singlescale\n"
            "wrdata results.txt gain_db\n"
            "echo \"f3db $&f3db\" >> results.txt\n"
            "quit\n"
            ".endc\n"
            ".end\n");
  WriteFile(dir / "c.yaml",
            "name: rc\nkernel:\n  command: [ngspice, -b, rc.cir]\n  files: {rc.cir: rc.cir}\n"
            "  results_file: results.txt\n"
            "  outputs:\n"
            "    f3db: float64\n"
            "    frequency: {dtype: float64, shape: [61], dims: [freq_point]}\n"
            "    gain_db: {dtype: float64, shape: [61], dims: [freq_point]}\n"
            "parameters:\n  R: {values: [1000, 10000]}\n  C: {values: [1e-09, 1e-08]}\n"
            "execution: {workers: 2, chunk_size: 1}\noutput: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<double> f3db = ReadDataset<double>(dir / "out.h5", "/f3db");
  ASSERT_EQ(f3db.size(), 4u);
  const double R[] = {1000, 1000, 10000, 10000}, C[] = {1e-9, 1e-8, 1e-9, 1e-8};
  for (size_t p = 0; p < 4; ++p) {
    const double expected = 1 / (2 * M_PI * R[p] * C[p]);
    EXPECT_NEAR(f3db[p], expected, 0.005 * expected) << "point " << p;
  }
  // The curve: the two outputs share their dimension, so xarray lines them up.
  WriteFile(dir / "check.py",
            "import sys, numpy as np, xarray as xr\n"
            "ds = xr.open_dataset(sys.argv[1], engine='h5netcdf')\n"
            "assert ds.gain_db.dims == ('R', 'C', 'freq_point'), ds.gain_db.dims\n"
            "d = ds.gain_db - ds.frequency\n"
            "assert d.dims == ('R', 'C', 'freq_point') and d.shape == (2, 2, 61), d.shape\n"
            "f = ds.frequency.sel(R=1000, C=1e-9)\n"
            "assert abs(float(f[0]) - 100) < 1e-6 and abs(float(f[-1]) - 1e6) < 1e-3, f.values\n"
            "g = ds.gain_db.sel(R=1000, C=1e-9)\n"
            "assert abs(float(g[0])) < 0.01 and float(g[-1]) < -15, g.values\n"
            "corner = 1 / (2 * np.pi * 1000 * 1e-9)\n"
            "model = -10 * np.log10(1 + (f / corner) ** 2)\n"
            "assert float(abs(g - model).max()) < 1e-3, float(abs(g - model).max())\n"
            "print('ok')\n");
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "check.py" + " " + dir / "out.h5"), 0);
}

}  // namespace
}  // namespace sweep
