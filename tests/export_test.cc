// `sweep export`: the value texts, and end-to-end tables of real runs read back by pandas and by
// a JSON parser, compared with the HDF5 results, for whole, failed, killed and live runs.
#include "driver/export.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "driver/space.h"
#include "io/clock.h"
#include "io/output_lock.h"
#include "tests/e2e.h"
#include "tests/seeds.h"

namespace sweep {
namespace {

using namespace sweep::testing;

const char* kPython = "/usr/bin/python3";

int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HavePandas() { return Shell(std::string(kPython) + " -c 'import pandas' 2>/dev/null") == 0; }

// Runs a Python script in `dir` and parses the one JSON document it prints.
nlohmann::json PythonJson(const TempDir& dir, const std::string& script) {
  WriteFile(dir / "check.py", script);
  const int code = Shell("cd " + dir.path() + " && " + kPython + " check.py > check.out 2>&1");
  const std::string out = ReadFile(dir / "check.out");
  EXPECT_EQ(code, 0) << out;
  return code == 0 ? nlohmann::json::parse(out) : nlohmann::json();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<nlohmann::ordered_json> JsonLines(const std::string& text) {
  std::vector<nlohmann::ordered_json> rows;
  for (const std::string& line : Lines(text)) rows.push_back(nlohmann::ordered_json::parse(line));
  return rows;
}

std::vector<std::string> Keys(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  return keys;
}

// The files in `dir` but the stdout and stderr captures of the sweeps run there.
std::vector<std::string> Files(const TempDir& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("stdout-", 0) != 0 && name.rfind("stderr-", 0) != 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The points of the chunks /chunks/status says are done.
std::vector<uint64_t> DonePoints(const std::string& file) {
  const std::vector<uint8_t> status = ReadDataset<uint8_t>(file, "/chunks/status");
  const std::vector<uint64_t> first = ReadDataset<uint64_t>(file, "/chunks/first");
  const std::vector<uint64_t> count = ReadDataset<uint64_t>(file, "/chunks/count");
  std::vector<uint64_t> points;
  for (size_t c = 0; c < status.size(); ++c)
    for (uint64_t p = first[c]; status[c] == 1 && p < first[c] + count[c]; ++p) points.push_back(p);
  return points;
}

std::string QuickstartOutput(const TempDir& dir) {
  const RunResult run = RunSweep(
      {"run", SourcePath("configs/quickstart.yaml"), "-q", "-o", dir / "out.h5"}, dir.path());
  EXPECT_EQ(run.code, 0) << run.err;
  return dir / "out.h5";
}

// The seed of quickstart's point p: rho, sigma and beta by value (driver/space.h), master 1.
uint64_t QuickstartSeed(uint64_t p) {
  const int64_t sigmas[] = {10, 14, 18};
  return DocumentedSeed(
      1,
      {NumberParam("rho", internal::Linspace(0, 50, 101, int64_t(p / 3))),
       IntegerParam("sigma", sigmas[p % 3]), NumberParam("beta", 2.6666666666666665)},
      0);
}

// The seed of SquareOutput's point p (x = p, master 0).
uint64_t SquareSeed(uint64_t p) { return DocumentedSeed(0, {IntegerParam("x", int64_t(p))}, 0); }

std::string SquareOutput(const TempDir& dir, uint64_t points) {
  WriteFile(dir / "square.yaml",
            "name: square\nkernel: {name: square}\nparameters:\n  x: {range: [0, " +
                std::to_string(points) + "]}\nexecution: {workers: 2}\noutput: {path: out.h5}\n");
  const RunResult run = RunSweep({"run", "square.yaml", "-q"}, dir.path());
  EXPECT_EQ(run.code, 0) << run.err;
  return dir / "out.h5";
}

// ---- Value texts ----

TEST(ExportTest, FloatsPrintShortestAndStayFloats) {
  using internal::FloatText;
  EXPECT_EQ(FloatText(0.5), "0.5");
  EXPECT_EQ(FloatText(2.0), "2.0");
  EXPECT_EQ(FloatText(-0.0), "-0.0");
  EXPECT_EQ(FloatText(1e300), "1e+300");
  EXPECT_EQ(FloatText(0.1), "0.1");
  EXPECT_EQ(FloatText(2.6666666666666665), "2.6666666666666665");
  EXPECT_EQ(FloatText(0.1f), "0.1");  // float32: shortest as a float, not 0.10000000149011612
  EXPECT_EQ(FloatText(16777216.0f), "16777216.0");
  EXPECT_EQ(FloatText(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(FloatText(-std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(FloatText(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(FloatText(-std::numeric_limits<float>::infinity()), "-inf");
}

TEST(ExportTest, FloatTextsReadBackBitExact) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 100000; ++i) {
    uint64_t bits = random();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    const std::string text = internal::FloatText(d);
    ASSERT_EQ(std::strtod(text.c_str(), nullptr), d) << text;
    const float f = float(random() % 1000000) / float(1 + random() % 1000);
    ASSERT_EQ(std::strtof(internal::FloatText(f).c_str(), nullptr), f);
  }
}

TEST(ExportTest, CsvFieldsAreQuotedOnlyWhenTheyMustBe) {
  using internal::CsvField;
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("with space"), "with space");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\r"), "\"cr\r\"");
  EXPECT_EQ(CsvField(""), "\"\"");  // an empty string, not a missing value
}

// ---- Whole runs ----

TEST(ExportTest, QuickstartCsvReadByPandasHoldsTheResults) {
  ASSERT_TRUE(HavePandas()) << "no pandas in " << kPython << " (scripts/setup installs it)";
  TempDir dir;
  const std::string out = QuickstartOutput(dir);
  const RunResult r = RunSweep({"export", "out.h5", "-o", "table.csv"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sweep: export: left out non-scalar outputs: state [3]\n");
  const nlohmann::json t = PythonJson(dir, R"(
import json, numpy, pandas
df = pandas.read_csv("table.csv", float_precision="round_trip")
p = df.point.values
print(json.dumps({
    "columns": list(df.columns), "dtypes": [str(t) for t in df.dtypes], "rows": len(df),
    "point": df.point.tolist(), "seed": [int(s) for s in df.seed],
    "rho_is_linspace": bool((df.rho.values == numpy.linspace(0, 50, 101)[p // 3]).all()),
    "sigma_is_grid": bool((df.sigma.values == numpy.array([10, 14, 18])[p % 3]).all()),
    "beta": sorted(set(df.beta.tolist())),
    "z_mean": df.z_mean.tolist(), "lyapunov": df.lyapunov.tolist()}))
)");
  ASSERT_FALSE(t.is_null());
  EXPECT_EQ(t["rows"], 303);
  EXPECT_EQ(t["columns"],
            nlohmann::json({"point", "rho", "sigma", "beta", "seed", "z_mean", "lyapunov"}));
  EXPECT_EQ(t["dtypes"], nlohmann::json({"int64", "float64", "int64", "float64", "uint64",
                                         "float64", "float64"}));
  EXPECT_TRUE(t["rho_is_linspace"].get<bool>());
  EXPECT_TRUE(t["sigma_is_grid"].get<bool>());
  EXPECT_EQ(t["beta"], nlohmann::json({2.6666666666666665}));
  std::vector<uint64_t> points(303), seeds(303);
  for (uint64_t p = 0; p < 303; ++p) {
    points[p] = p;
    seeds[p] = QuickstartSeed(p);
  }
  EXPECT_EQ(t["point"].get<std::vector<uint64_t>>(), points);
  EXPECT_EQ(t["seed"].get<std::vector<uint64_t>>(), seeds);
  // Bit for bit: the /results datasets are [rho, sigma] in C order, so flat by point.
  EXPECT_EQ(t["lyapunov"].get<std::vector<double>>(), ReadDataset<double>(out, "/lyapunov"));
  EXPECT_EQ(t["z_mean"].get<std::vector<double>>(), ReadDataset<double>(out, "/z_mean"));
}

// The README's JSONL reading: pandas with precise_float reads every float bit for bit.
TEST(ExportTest, QuickstartJsonLinesReadByPandasAreBitExact) {
  ASSERT_TRUE(HavePandas()) << "no pandas in " << kPython << " (scripts/setup installs it)";
  TempDir dir;
  const std::string out = QuickstartOutput(dir);
  const RunResult r =
      RunSweep({"export", "out.h5", "--format", "jsonl", "-o", "table.jsonl"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json t = PythonJson(dir, R"(
import json, pandas
df = pandas.read_json("table.jsonl", lines=True, precise_float=True)
print(json.dumps({"lyapunov": df.lyapunov.tolist(), "z_mean": df.z_mean.tolist()}))
)");
  ASSERT_FALSE(t.is_null());
  EXPECT_EQ(t["lyapunov"].get<std::vector<double>>(), ReadDataset<double>(out, "/lyapunov"));
  EXPECT_EQ(t["z_mean"].get<std::vector<double>>(), ReadDataset<double>(out, "/z_mean"));
}

TEST(ExportTest, QuickstartJsonLinesHoldTheSameValues) {
  TempDir dir;
  const std::string out = QuickstartOutput(dir);
  const RunResult r = RunSweep({"export", "out.h5", "--format", "jsonl"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<nlohmann::ordered_json> rows = JsonLines(r.out);
  ASSERT_EQ(rows.size(), 303u);
  const std::vector<double> lyapunov = ReadDataset<double>(out, "/lyapunov");
  const std::vector<double> z_mean = ReadDataset<double>(out, "/z_mean");
  const int kSigmas[] = {10, 14, 18};
  const std::vector<std::string> keys = {"point", "rho",    "sigma",   "beta",
                                         "seed",  "z_mean", "lyapunov"};
  for (uint64_t p = 0; p < rows.size(); ++p) {
    const nlohmann::ordered_json& row = rows[p];
    SCOPED_TRACE(row.dump());
    ASSERT_EQ(Keys(row), keys);
    EXPECT_EQ(row["point"].get<uint64_t>(), p);
    EXPECT_TRUE(row["rho"].is_number_float());
    EXPECT_EQ(row["rho"].get<double>(), internal::Linspace(0, 50, 101, int64_t(p / 3)));
    EXPECT_TRUE(row["sigma"].is_number_integer());
    EXPECT_EQ(row["sigma"].get<int>(), kSigmas[p % 3]);
    EXPECT_EQ(row["beta"].get<double>(), 2.6666666666666665);
    EXPECT_EQ(row["seed"].get<uint64_t>(), QuickstartSeed(p));
    EXPECT_EQ(row["z_mean"].get<double>(), z_mean[p]);
    EXPECT_EQ(row["lyapunov"].get<double>(), lyapunov[p]);
  }
}

// ---- Partial runs ----

// 40 points in chunks of 4; points 7 and 21 fail, so chunks 1 and 5 fail.
TEST(ExportTest, FailedChunksAreLeftOut) {
  TempDir dir;
  WriteFile(dir / "faulty.yaml",
            "name: faulty\nkernel: {name: faulty, options: {error_at: 7, segfault_at: 21}}\n"
            "inputs:\n  data: {generate: zeros, shape: [4]}\n"
            "parameters:\n  i: {range: [0, 40]}\n  label: {values: [only]}\n"
            "execution: {workers: 2, chunk_size: 4, retries: 1}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "faulty.yaml", "-q"}, dir.path()).code, 3);
  const RunResult r = RunSweep({"export", "out.h5"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "sweep: export: 32 of 40 points are done; the table holds those\n");
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 33u);
  EXPECT_EQ(lines[0], "point,i,label,seed,y");
  std::vector<uint64_t> points;
  for (size_t k = 1; k < lines.size(); ++k) {
    unsigned long long point = 0, i = 0, seed = 0;
    char label[16] = "";
    double y = 0;
    ASSERT_EQ(
        std::sscanf(lines[k].c_str(), "%llu,%llu,%15[^,],%llu,%lf", &point, &i, label, &seed, &y),
        5)
        << lines[k];
    points.push_back(point);
    EXPECT_EQ(i, point);
    EXPECT_STREQ(label, "only");
    EXPECT_EQ(seed, DocumentedSeed(
                        0, {IntegerParam("i", int64_t(point)), StringParam("label", "only")}, 0));
    EXPECT_EQ(y, double(point)) << lines[k];
  }
  std::vector<uint64_t> expected;
  for (uint64_t p = 0; p < 40; ++p)
    if (p / 4 != 1 && p / 4 != 5) expected.push_back(p);
  EXPECT_EQ(points, expected);
  EXPECT_EQ(points, DonePoints(dir / "out.h5"));
}

std::vector<uint64_t> PointsOf(const std::vector<nlohmann::ordered_json>& rows) {
  std::vector<uint64_t> points;
  for (const auto& row : rows) points.push_back(row["point"].get<uint64_t>());
  return points;
}

// The sweep a test kills or exports live: HeldConfig's faulty sweep of 1500 x 2 replicates in 125
// chunks, held from i = 750 until the gate opens.
std::string HeldSweep(const TempDir& dir, const Gate& gate) {
  return HeldConfig(dir, gate, 1500, 24, 750, "", "repeat: 2\n");
}

// Each row against the file: i, replicate, seed and y equal, y being i + the seed's fraction.
void ExpectHeldRowsMatch(const std::vector<nlohmann::ordered_json>& rows, const std::string& file) {
  const std::vector<double> y = ReadDataset<double>(file, "/y");
  for (const nlohmann::ordered_json& row : rows) {
    SCOPED_TRACE(row.dump());
    ASSERT_EQ(Keys(row), (std::vector<std::string>{"point", "i", "replicate", "seed", "y"}));
    const uint64_t p = row["point"].get<uint64_t>();
    EXPECT_EQ(row["i"].get<uint64_t>(), p / 2);
    EXPECT_EQ(row["replicate"].get<uint64_t>(), p % 2);
    const uint64_t seed = DocumentedSeed(5, {IntegerParam("i", int64_t(p / 2))}, p % 2);
    EXPECT_EQ(row["seed"].get<uint64_t>(), seed);
    EXPECT_EQ(row["y"].get<double>(), y[p]);
    EXPECT_EQ(row["y"].get<double>(), double(p / 2) + double(seed >> 11) * 0x1p-53);
  }
}

TEST(ExportTest, AKilledRunExportsExactlyItsDoneChunks) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run", HeldSweep(dir, gate), "-q"}, dir.path());
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", 8)) << run.err();
  run.Signal(SIGKILL);
  ASSERT_EQ(run.Wait(), 128 + SIGKILL);
  const std::vector<uint64_t> done = DonePoints(dir / "out.h5");
  ASSERT_GT(done.size(), 0u);
  ASSERT_LT(done.size(), 3000u);
  const RunResult r = RunSweep({"export", "out.h5", "--format", "jsonl"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "sweep: export: " + std::to_string(done.size()) +
                       " of 3000 points are done; the table holds those\n");
  const std::vector<nlohmann::ordered_json> rows = JsonLines(r.out);
  EXPECT_EQ(PointsOf(rows), done);
  ExpectHeldRowsMatch(rows, dir / "out.h5");
}

TEST(ExportTest, ALiveRunIsExportedAsItStands) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run", HeldSweep(dir, gate), "-q"}, dir.path());
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", 4)) << run.err();
  const RunResult r = RunSweep({"export", "out.h5", "--format", "jsonl"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  gate.Open();
  ASSERT_EQ(run.Wait(), 0) << run.err();
  const std::vector<nlohmann::ordered_json> rows = JsonLines(r.out);
  const std::vector<uint64_t> points = PointsOf(rows);
  EXPECT_GE(points.size(), 4u * 24);
  EXPECT_LT(points.size(), 3000u) << "exported after the run had finished";
  EXPECT_TRUE(std::is_sorted(points.begin(), points.end()));
  EXPECT_EQ(std::set<uint64_t>(points.begin(), points.end()).size(), points.size());
  // What was done when exported is what the finished file holds.
  ExpectHeldRowsMatch(rows, dir / "out.h5");
}

// ---- The chunk table (--chunks) ----

// 40 points in chunks of 4 on 2 workers; point 7 reports an error and point 21 crashes its worker,
// so chunks 1 and 5 fail.
std::string FaultyConfig(const TempDir& dir) {
  WriteFile(dir / "faulty.yaml",
            "name: faulty\n"
            "kernel: {name: faulty, options: {error_at: 7, segfault_at: 21, sleep_ms: 2}}\n"
            "inputs:\n  data: {generate: zeros, shape: [4]}\n"
            "parameters:\n  i: {range: [0, 40]}\n"
            "execution: {workers: 2, chunk_size: 4}\noutput: {path: out.h5}\n");
  return dir / "faulty.yaml";
}

TEST(ExportTest, TheChunkTableReadByPandasHoldsEachChunksProvenance) {
  if (!HavePandas()) GTEST_SKIP() << "no pandas in " << kPython;
  TempDir dir;
  const double before = WallSeconds();
  ASSERT_EQ(RunSweep({"run", FaultyConfig(dir), "-q"}, dir.path()).code, 3);
  const double after = WallSeconds();
  const RunResult r = RunSweep({"export", "out.h5", "--chunks", "-o", "chunks.csv"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const nlohmann::json t = PythonJson(dir, R"(import json, pandas
df = pandas.read_csv("chunks.csv", float_precision="round_trip")
done = df[df.status == "done"]
failed = df[df.status == "failed"]
print(json.dumps({
    "columns": list(df.columns), "chunks": list(df.chunk), "first": list(df.first_point),
    "points": list(df.points), "status": list(df.status), "attempts": list(df.attempts),
    "done_hosts": sorted(set(done.host)), "done_workers": sorted(set(done.worker)),
    "start": [done.start_time.min(), done.start_time.max()], "seconds": done.seconds.min(),
    "max_rss": int(done.max_rss.min()), "done_failures": int(done.failure.notna().sum()),
    "failed": [[int(c), h, int(w), f, int(p), bool(pandas.isna(s)), bool(pandas.isna(m))]
               for c, h, w, f, p, s, m in zip(failed.chunk, failed.host, failed.worker,
                                              failed.failure, failed.failure_point,
                                              failed.start_time, failed.max_rss)]}))
)");
  ASSERT_FALSE(t.is_null());
  EXPECT_EQ(t["columns"], nlohmann::json::parse(R"(["chunk", "first_point", "points", "status",
      "attempts", "host", "worker", "device", "start_time", "seconds", "max_rss", "failure",
      "failure_point", "reused", "reused_from", "reused_first_chunk", "reused_last_chunk"])"));
  EXPECT_EQ(t["chunks"], nlohmann::json::parse("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"));
  EXPECT_EQ(t["first"], nlohmann::json::parse("[0, 4, 8, 12, 16, 20, 24, 28, 32, 36]"));
  EXPECT_EQ(t["points"], nlohmann::json::parse("[4, 4, 4, 4, 4, 4, 4, 4, 4, 4]"));
  // As /chunks/status says, and tried once each (neither failure is retried).
  const std::vector<uint8_t> status = ReadDataset<uint8_t>(dir / "out.h5", "/chunks/status");
  ASSERT_EQ(status.size(), 10u);
  for (size_t c = 0; c < 10; ++c) {
    EXPECT_EQ(t["status"][c], status[c] == 1 ? "done" : status[c] == 2 ? "failed" : "pending");
    EXPECT_EQ(t["status"][c], c == 1 || c == 5 ? "failed" : "done") << c;
    EXPECT_EQ(t["attempts"][c], 1) << c;
  }
  // Where and when: this machine, one of the two workers, during the run, with its memory.
  EXPECT_EQ(t["done_hosts"], nlohmann::json::array({HostName()}));
  for (const auto& w : t["done_workers"]) EXPECT_TRUE(w == 0 || w == 1) << w;
  EXPECT_GE(t["start"][0].get<double>(), before);
  EXPECT_LE(t["start"][1].get<double>(), after);
  EXPECT_GE(t["seconds"].get<double>(), 0.008);  // 4 points of 2 ms
  EXPECT_GT(t["max_rss"].get<uint64_t>(), uint64_t{1} << 20);
  EXPECT_EQ(t["done_failures"], 0);
  // Why the failed ones failed, on which point, as the journal recorded it; no start, no memory.
  std::map<uint64_t, std::string> reasons;
  for (const JournalRecord& f : JournalRecords(dir / "out.h5.journal", "failed"))
    reasons[f.chunk] = f.reason;
  ASSERT_EQ(t["failed"].size(), 2u);
  for (const auto& row : t["failed"]) {
    const uint64_t c = row[0];
    EXPECT_EQ(row[1], HostName());
    EXPECT_TRUE(row[2] == 0 || row[2] == 1) << row;
    EXPECT_EQ(row[3], reasons.at(c));
    EXPECT_EQ(row[4], c == 1 ? 7 : 21);
    EXPECT_EQ(row[5], true) << "start_time of a failed chunk: " << row;
    EXPECT_EQ(row[6], true) << "max_rss of a failed chunk: " << row;
  }
  EXPECT_NE(reasons.at(5).find("SIGSEGV"), std::string::npos) << reasons.at(5);
}

TEST(ExportTest, TheChunkTableAsJsonLinesHasNullWhereNothingIsRecorded) {
  TempDir dir;
  ASSERT_EQ(RunSweep({"run", FaultyConfig(dir), "-q"}, dir.path()).code, 3);
  const RunResult r = RunSweep({"export", "out.h5", "--chunks", "--format", "jsonl"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<nlohmann::ordered_json> rows = JsonLines(r.out);
  ASSERT_EQ(rows.size(), 10u);
  for (const auto& row : rows) {
    EXPECT_EQ(Keys(row),
              (std::vector<std::string>{"chunk", "first_point", "points", "status", "attempts",
                                        "host", "worker", "device", "start_time", "seconds",
                                        "max_rss", "failure", "failure_point", "reused",
                                        "reused_from", "reused_first_chunk", "reused_last_chunk"}));
    const bool failed = row["status"] == "failed";
    EXPECT_EQ(row["host"], HostName());
    EXPECT_TRUE(row["worker"].is_number_unsigned()) << row;
    EXPECT_EQ(row["start_time"].is_null(), failed) << row;
    EXPECT_EQ(row["seconds"].is_null(), failed) << row;
    EXPECT_EQ(row["max_rss"].is_null(), failed) << row;
    EXPECT_EQ(row["failure"].is_string(), failed) << row;
    EXPECT_EQ(row["failure_point"].is_null(), !failed) << row;
    // Nothing reused: 0 for a done chunk, null for a failed one.
    EXPECT_EQ(row["reused"], failed ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(0));
    EXPECT_TRUE(row["reused_from"].is_null()) << row;
  }
  EXPECT_EQ(rows[1]["failure"], "faulty: error at i=7");
}

// ---- Strings, repeat, every dtype, NaN and infinities ----

// /bin/echo prints each output in `name value` lines: y is NaN, inf, -inf or 0.5 as the string
// parameter s says; an output is named like a column before it (point); xo echoes x.
constexpr char kTidyConfig[] = R"(name: tidy
seed: 5
kernel:
  command: [/bin/echo, "xo {x}\nf32 {x}\ny {s}\npoint {point}\ni32 -{n}\nu8 {n}"]
  outputs:
    xo: float64
    f32: float32
    y: float64
    point: int64
    i32: int32
    u8: uint8
parameters:
  x: {values: [0.1, -2.5, 1e30, 3]}
  n: {values: [0, 255]}
  s: {values: ["nan", "inf", "-inf", "0.5"]}
  label: {values: [plain, "a,b", 'say "hi"', "two\nlines", ""]}
  note: "hello, world"
repeat: 2
execution: {workers: 2}
output: {path: out.h5}
)";

// The expected values of point p, in C order over x, n, s, label, replicate.
struct TidyPoint {
  double x;
  int n;
  std::string s, label;
  uint64_t replicate;
  double y;
};

// Point p's seed: seeds by parameter values (driver/space.h), note included.
uint64_t TidySeed(uint64_t p);

TidyPoint Tidy(uint64_t p) {
  const double xs[] = {0.1, -2.5, 1e30, 3};
  const char* ss[] = {"nan", "inf", "-inf", "0.5"};
  const char* labels[] = {"plain", "a,b", "say \"hi\"", "two\nlines", ""};
  TidyPoint t;
  t.replicate = p % 2;
  t.label = labels[(p / 2) % 5];
  t.s = ss[(p / 10) % 4];
  t.n = (p / 40) % 2 ? 255 : 0;
  t.x = xs[p / 80];
  t.y = std::strtod(t.s.c_str(), nullptr);
  return t;
}

uint64_t TidySeed(uint64_t p) {
  const TidyPoint t = Tidy(p);
  return DocumentedSeed(5,
                        {NumberParam("x", t.x), IntegerParam("n", t.n), StringParam("s", t.s),
                         StringParam("label", t.label), StringParam("note", "hello, world")},
                        t.replicate);
}

// NaN equals NaN; otherwise bit for bit.
bool SameDouble(double a, double b) { return std::isnan(a) ? std::isnan(b) : a == b; }

const std::vector<std::string> kTidyColumns = {
    "point", "x",  "n",   "s", "label",        "note", "replicate",
    "seed",  "xo", "f32", "y", "output_point", "i32",  "u8"};

TEST(ExportTest, StringsRepeatAndEveryDtypeRoundTripThroughPandas) {
  ASSERT_TRUE(HavePandas()) << "no pandas in " << kPython << " (scripts/setup installs it)";
  TempDir dir;
  WriteFile(dir / "tidy.yaml", kTidyConfig);
  const RunResult run = RunSweep({"run", "tidy.yaml", "-q"}, dir.path());
  ASSERT_EQ(run.code, 0) << run.err;
  const RunResult r = RunSweep({"export", "out.h5", "-o", "table.csv"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err,
            "sweep: export: outputs named like a column before them: point as output_point\n");
  const std::string csv = ReadFile(dir / "table.csv");
  EXPECT_EQ(Lines(csv)[0], "point,x,n,s,label,note,replicate,seed,xo,f32,y,output_point,i32,u8");
  EXPECT_NE(csv.find(",\"a,b\",\"hello, world\","), std::string::npos);
  EXPECT_NE(csv.find(",\"say \"\"hi\"\"\",\"hello, world\","), std::string::npos);
  EXPECT_NE(csv.find(",\"\",\"hello, world\","), std::string::npos);
  EXPECT_NE(csv.find(",1e+30,"), std::string::npos);
  EXPECT_NE(csv.find(",3.0,"), std::string::npos);  // 3 in a list of numbers is a number
  // Numbers as pandas reads them by default (nan and inf included); strings as written.
  const nlohmann::json t = PythonJson(dir, R"(
import json, pandas
df = pandas.read_csv("table.csv", float_precision="round_trip")
text = pandas.read_csv("table.csv", dtype=str, keep_default_na=False)
number = lambda v: repr(float(v))
print(json.dumps({
    "columns": list(df.columns), "rows": len(df),
    "dtypes": {c: str(t) for c, t in df.dtypes.items()},
    "point": df.point.tolist(), "seed": [int(s) for s in df.seed],
    "n": df.n.tolist(), "replicate": df.replicate.tolist(),
    "i32": df.i32.tolist(), "u8": df.u8.tolist(), "out_point": df["output_point"].tolist(),
    "x": [number(v) for v in df.x], "out_x": [number(v) for v in df["xo"]],
    "f32": [number(v) for v in df.f32], "y": [number(v) for v in df.y],
    "s": text.s.tolist(), "label": text.label.tolist(), "note": sorted(set(text.note))}))
)");
  ASSERT_FALSE(t.is_null());
  EXPECT_EQ(t["columns"].get<std::vector<std::string>>(), kTidyColumns);
  ASSERT_EQ(t["rows"], 160 * 2);
  const nlohmann::json& dtypes = t["dtypes"];
  for (const char* c : {"point", "n", "replicate", "output_point", "i32", "u8"})
    EXPECT_EQ(dtypes[c], "int64") << c;
  for (const char* c : {"x", "xo", "f32", "y"}) EXPECT_EQ(dtypes[c], "float64") << c;
  EXPECT_EQ(dtypes["seed"], "uint64");
  EXPECT_EQ(t["note"], nlohmann::json({"hello, world"}));
  const std::vector<float> f32 = ReadDataset<float>(dir / "out.h5", "/f32");
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  for (uint64_t p = 0; p < 320; ++p) {
    SCOPED_TRACE("point " + std::to_string(p));
    const TidyPoint e = Tidy(p);
    ASSERT_EQ(t["point"][p], p);
    EXPECT_EQ(t["seed"][p].get<uint64_t>(), TidySeed(p));
    EXPECT_EQ(t["n"][p], e.n);
    EXPECT_EQ(t["replicate"][p], e.replicate);
    EXPECT_EQ(t["s"][p], e.s);
    EXPECT_EQ(t["label"][p], e.label);
    EXPECT_EQ(t["out_point"][p], p);
    EXPECT_EQ(t["i32"][p], -e.n);
    EXPECT_EQ(t["u8"][p], e.n);
    const auto read = [&](const char* column) {
      return std::strtod(t[column][p].get<std::string>().c_str(), nullptr);
    };
    EXPECT_EQ(read("x"), e.x);
    EXPECT_EQ(read("out_x"), e.x);
    EXPECT_EQ(float(read("f32")), f32[p]);  // float32 texts read back as the same float
    EXPECT_EQ(f32[p], float(e.x));
    EXPECT_TRUE(SameDouble(read("y"), e.y)) << t["y"][p];
    EXPECT_TRUE(SameDouble(read("y"), y[p]));
  }
}

TEST(ExportTest, StringsRepeatAndEveryDtypeRoundTripThroughJsonLines) {
  TempDir dir;
  WriteFile(dir / "tidy.yaml", kTidyConfig);
  const RunResult run = RunSweep({"run", "tidy.yaml", "-q"}, dir.path());
  ASSERT_EQ(run.code, 0) << run.err;
  const RunResult r = RunSweep({"export", "out.h5", "--format=jsonl"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<nlohmann::ordered_json> rows = JsonLines(r.out);
  ASSERT_EQ(rows.size(), 320u);
  const std::vector<float> f32 = ReadDataset<float>(dir / "out.h5", "/f32");
  for (uint64_t p = 0; p < rows.size(); ++p) {
    const nlohmann::ordered_json& row = rows[p];
    SCOPED_TRACE(row.dump());
    const TidyPoint e = Tidy(p);
    ASSERT_EQ(Keys(row), kTidyColumns);
    EXPECT_EQ(row["point"], p);
    EXPECT_EQ(row["x"].get<double>(), e.x);
    EXPECT_TRUE(row["x"].is_number_float());
    EXPECT_EQ(row["n"], e.n);
    EXPECT_EQ(row["s"], e.s);
    EXPECT_EQ(row["label"], e.label);
    EXPECT_EQ(row["note"], "hello, world");
    EXPECT_EQ(row["replicate"], e.replicate);
    EXPECT_EQ(row["seed"].get<uint64_t>(), TidySeed(p));
    EXPECT_EQ(row["xo"].get<double>(), e.x);
    EXPECT_EQ(float(row["f32"].get<double>()), f32[p]);
    if (std::isfinite(e.y)) {
      EXPECT_EQ(row["y"].get<double>(), e.y);
    } else {
      EXPECT_TRUE(row["y"].is_null());  // NaN and both infinities: JSON has none
    }
    EXPECT_EQ(row["output_point"], p);
    EXPECT_EQ(row["i32"], -e.n);
    EXPECT_EQ(row["u8"], e.n);
  }
}

// ---- Errors and endings ----

TEST(ExportTest, BadUsageExitsTwoAndWritesNothingAtO) {
  TempDir dir;
  const std::string out = SquareOutput(dir, 10);
  WriteFile(dir / "notes.h5", "not HDF5\n");
  WriteFile(dir / "kept.csv", "kept\n");
  const std::string before = ReadFile(out);
  const std::vector<std::string> files = Files(dir);
  const std::vector<std::vector<std::string>> bad = {
      {"export", "missing.h5", "-o", "table.csv"},
      {"export", "notes.h5", "-o", "table.csv"},
      {"export", "square.yaml", "-o", "kept.csv"},
      {"export", "out.h5", "--format", "xml", "-o", "table.csv"},
      {"export", "out.h5", "--format", "xml", "-o", "kept.csv"},
      {"export", "out.h5", "-o", "out.h5"},
      {"export", "-o", "table.csv"},
  };
  for (const auto& args : bad) {
    const RunResult r = RunSweep(args, dir.path());
    SCOPED_TRACE(args[1] + " " + args[2]);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("sweep: ", 0), 0u) << r.err;
    EXPECT_EQ(Files(dir), files);
    EXPECT_EQ(ReadFile(dir / "kept.csv"), "kept\n");
    EXPECT_EQ(ReadFile(out), before);
  }
}

TEST(ExportTest, ReplacesAnExistingFileWhole) {
  TempDir dir;
  SquareOutput(dir, 10);
  WriteFile(dir / "table.csv", "old\n");
  const RunResult r = RunSweep({"export", "out.h5", "-o", "table.csv"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::vector<std::string> lines = Lines(ReadFile(dir / "table.csv"));
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_EQ(lines[0], "point,x,seed,y");
  EXPECT_EQ(lines[10], "9,9," + std::to_string(SquareSeed(9)) + ",81.0");
}

// `| head`: the reader goes away after a few lines of megabytes; that is a quiet success.
TEST(ExportTest, AClosedStdoutEndsTheExportQuietly) {
  TempDir dir;
  SquareOutput(dir, 200000);
  const int code = Shell("cd " + dir.path() + " && bash -c '" + SWEEP_BINARY +
                         " export out.h5 2> err.txt | head -n 3 > head.txt; "
                         "echo ${PIPESTATUS[0]} > code.txt'");
  ASSERT_EQ(code, 0);
  EXPECT_EQ(ReadFile(dir / "code.txt"), "0\n");
  EXPECT_EQ(ReadFile(dir / "err.txt"), "");
  EXPECT_EQ(ReadFile(dir / "head.txt"), "point,x,seed,y\n0,0," + std::to_string(SquareSeed(0)) +
                                            ",0.0\n1,1," + std::to_string(SquareSeed(1)) +
                                            ",1.0\n");
}

TEST(ExportTest, AnInterruptedExportLeavesNothingAtO) {
  TempDir dir;
  // About 260 MB of CSV: its temporary has bytes long before it is done.
  SquareOutput(dir, 5'000'000);
  WriteFile(dir / "table.csv", "old\n");
  SweepProcess exporting({"export", "out.h5", "-o", "table.csv"}, dir.path());
  const std::string temporary = dir / ("table.csv.tmp-" + std::to_string(exporting.pid()));
  ASSERT_TRUE(WaitUntil([&] {
    struct stat st = {};
    return stat(temporary.c_str(), &st) == 0 && st.st_size > 0;
  })) << "the export never started writing";
  // Stopped, it cannot finish before the interrupt: the SIGINT sent meanwhile is handled as it
  // resumes, before it writes another byte, however fast the machine is.
  exporting.Signal(SIGSTOP);
  const std::string proc_stat = "/proc/" + std::to_string(exporting.pid()) + "/stat";
  ASSERT_TRUE(WaitUntil([&] {  // the state follows "(name) ": T once it has stopped
    const std::string stat_line = ReadFile(proc_stat);
    return stat_line.substr(stat_line.rfind(')') + 2, 1) == "T";
  }));
  ASSERT_TRUE(std::filesystem::exists(temporary)) << "the export was done before it was stopped";
  exporting.Signal(SIGINT);
  exporting.Signal(SIGCONT);
  EXPECT_EQ(exporting.Wait(), 130) << exporting.err();
  EXPECT_EQ(exporting.err(), "sweep: export: interrupted\n");
  EXPECT_FALSE(std::filesystem::exists(temporary));
  EXPECT_EQ(ReadFile(dir / "table.csv"), "old\n");
}

// A sampled sweep's rows carry their sample index, and each sample's parameter is the value the
// file's `sample` coordinate holds for it.
TEST(ExportTest, SampledSweepsCarryTheSampleIndex) {
  TempDir dir;
  WriteFile(dir / "sampled.yaml",
            "name: sampled\nseed: 3\nkernel: {name: square}\n"
            "parameters:\n  x: {uniform: [0, 1]}\nsampling: {method: lhs, n: 50}\nrepeat: 2\n"
            "output: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "sampled.yaml", "-q"}, dir.path()).code, 0);
  const RunResult r = RunSweep({"export", "out.h5", "--format", "jsonl"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<nlohmann::ordered_json> rows = JsonLines(r.out);
  ASSERT_EQ(rows.size(), 100u);
  const std::vector<double> x = ReadDataset<double>(dir / "out.h5", "/x");
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  for (uint64_t p = 0; p < rows.size(); ++p) {
    EXPECT_EQ(Keys(rows[p]),
              (std::vector<std::string>{"point", "sample", "x", "replicate", "seed", "y"}));
    EXPECT_EQ(rows[p]["sample"], p / 2);
    EXPECT_EQ(rows[p]["x"].get<double>(), x[p / 2]);
    EXPECT_EQ(rows[p]["y"].get<double>(), y[p]);
  }
}

}  // namespace
}  // namespace sweep
