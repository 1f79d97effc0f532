#include "driver/chunk_ledger.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "driver/checksum.h"
#include "io/error.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

// 10 points in chunks of 3: chunks 0..2 hold 3 points, chunk 3 holds 1. One float64 output.
OutputLayoutSpec TenPoints() {
  OutputLayoutSpec spec;
  spec.config_text = "name: ledger\n";
  spec.kernel_name = "fake";
  spec.points = 10;
  spec.chunk_size = 3;
  spec.chunks = 4;
  spec.dimensions = {{"i", 10}};
  spec.variables = {{"i", 0, SWEEP_VALUE_INTEGER, [](uint64_t k) {
                       return sweep_value{SWEEP_VALUE_INTEGER, double(k), int64_t(k), nullptr};
                     }}};
  spec.outputs = {{"x", SWEEP_FLOAT64, 0, {}}};
  return spec;
}

class ChunkLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override { CreateOutputFile(path_, TenPoints()); }

  OutputFile Open() { return OutputFile::Open(path_, OutputFile::Access::kReadWrite); }

  // Writes chunk c's rows (point p holds 10 * p + 0.5) and returns their checksum.
  uint64_t WriteRows(OutputFile& file, uint64_t c) {
    const Plan plan(10, 3);
    const Chunk chunk = plan.chunk(c);
    std::vector<double> rows;
    for (uint64_t p = chunk.first; p < chunk.end(); ++p) rows.push_back(10.0 * double(p) + 0.5);
    file.WriteRows(0, chunk.first, chunk.count, rows.data());
    ChunkChecksum checksum(1);
    checksum.Add(0, rows.data(), rows.size() * 8);
    return checksum.Finish();
  }

  static JournalRecord Done(uint64_t chunk, uint64_t checksum, double time) {
    JournalRecord r;
    r.type = "done";
    r.time = time;
    r.chunk = chunk;
    r.checksum = checksum;
    r.attempt = 1;
    r.worker = 0;
    return r;
  }

  static JournalRecord Failed(uint64_t chunk, double time, bool final) {
    JournalRecord r;
    r.type = "failed";
    r.time = time;
    r.chunk = chunk;
    r.attempt = 2;
    r.final = final;
    r.kind = "crashed";
    r.reason = "SIGSEGV (Segmentation fault)";
    r.point = 3 * chunk;
    return r;
  }

  std::vector<ChunkStatus> Statuses(const ChunkLedger& ledger) {
    std::vector<ChunkStatus> out;
    for (uint64_t c = 0; c < 4; ++c) out.push_back(ledger.status(c));
    return out;
  }

  TempDir dir_;
  std::string path_ = dir_ / "out.h5";
};

constexpr ChunkStatus kP = ChunkStatus::kPending, kD = ChunkStatus::kDone,
                      kF = ChunkStatus::kFailed;

TEST_F(ChunkLedgerTest, ANewOutputHasEveryChunkToDoAndShardsSplitThem) {
  OutputFile file = Open();
  const ChunkLedger ledger = ChunkLedger::ForNewOutput(file);
  EXPECT_EQ(Statuses(ledger), (std::vector<ChunkStatus>{kP, kP, kP, kP}));
  const LedgerCounts counts = ledger.Count();
  EXPECT_EQ(counts.pending, 4u);
  EXPECT_EQ(counts.points_left, 10u);
  ChunkSelection every;
  EXPECT_EQ(ledger.Todo(every), (std::vector<uint64_t>{0, 1, 2, 3}));
  every.shard = std::make_pair(uint64_t{1}, uint64_t{2});
  EXPECT_EQ(ledger.Todo(every), (std::vector<uint64_t>{1, 3}));
}

TEST_F(ChunkLedgerTest, RecordingWritesTheJournalAndTheTable) {
  {
    OutputFile file = Open();
    ChunkLedger ledger = ChunkLedger::ForNewOutput(file);
    Journal journal = Journal::Create(path_ + ".journal");
    ledger.RecordInto(&journal);
    const uint64_t sum = WriteRows(file, 1);
    ledger.RecordDone(Plan(10, 3).chunk(1), DoneChunk{sum, 0.25, 1.7e9, 1 << 20, 1, 2}, "node-a");
    JournalRecord transient = Failed(2, 5.0, /*final=*/false);  // to be retried: status unchanged
    transient.reason = "killed (SIGKILL)";
    transient.worker = 0;
    ledger.RecordFailed(transient, "node-a");
    JournalRecord final = Failed(3, 6.0, /*final=*/true);
    final.worker = 3;
    ledger.RecordFailed(final, "node-b");
    EXPECT_EQ(Statuses(ledger), (std::vector<ChunkStatus>{kP, kD, kP, kF}));
  }
  // The table alone (journals removed) says the same: both were written.
  OutputFile file = Open();
  const ChunkTable table = file.ReadChunkTable();
  EXPECT_EQ(table.status, (std::vector<ChunkStatus>{kP, kD, kP, kF}));
  EXPECT_EQ(table.attempts, (std::vector<uint32_t>{0, 2, 0, 2}));
  EXPECT_EQ(table.seconds[1], 0.25);
  EXPECT_NE(table.checksum[1], 0u);
  // The provenance: the done chunk's host, worker, start and peak memory; each failure's reason,
  // the final one's host and worker.
  const ChunkProvenance provenance = file.ReadChunkProvenance();
  const auto host = [&](uint64_t c) { return provenance.host_names.at(provenance.host[c]); };
  const auto reason = [&](uint64_t c) {
    return provenance.failure_reasons.at(provenance.failure[c]);
  };
  EXPECT_EQ(host(0), "");
  EXPECT_EQ(host(1), "node-a");
  EXPECT_EQ(provenance.worker[1], 1);
  EXPECT_EQ(provenance.start_time[1], 1.7e9);
  EXPECT_EQ(provenance.max_rss[1], uint64_t{1} << 20);
  EXPECT_EQ(reason(1), "");
  EXPECT_EQ(host(2), "");  // a transient failure leaves the row but its reason
  EXPECT_EQ(reason(2), "killed (SIGKILL)");
  EXPECT_EQ(host(3), "node-b");
  EXPECT_EQ(provenance.worker[3], 3);
  EXPECT_EQ(provenance.start_time[3], 0);
  EXPECT_EQ(reason(3), "SIGSEGV (Segmentation fault)");
  const JournalContents journal = Journal::Read(path_ + ".journal");
  ASSERT_EQ(journal.records.size(), 3u);
  EXPECT_EQ(journal.records[0].type, "done");
  EXPECT_EQ(journal.records[0].checksum, table.checksum[1]);
  EXPECT_EQ(journal.records[0].start_time, 1.7e9);
  EXPECT_EQ(journal.records[0].max_rss, uint64_t{1} << 20);
  std::filesystem::remove(path_ + ".journal");
  const ChunkLedger reloaded = ChunkLedger::Load(file);
  EXPECT_EQ(Statuses(reloaded), (std::vector<ChunkStatus>{kP, kD, kP, kF}));
  const LedgerCounts counts = reloaded.Count();
  EXPECT_EQ(counts.done, 1u);
  EXPECT_EQ(counts.failed, 1u);
  EXPECT_EQ(counts.points_done, 3u);
  EXPECT_EQ(counts.points_left, 7u);
  // Per shard, in one pass, as a selection of the shard counts them.
  const std::vector<LedgerCounts> halves = reloaded.CountByShard(2);
  ASSERT_EQ(halves.size(), 2u);
  for (uint64_t i = 0; i < 2; ++i) {
    ChunkSelection shard;
    shard.shard = std::make_pair(i, uint64_t{2});
    const LedgerCounts expected = reloaded.Count(shard);
    EXPECT_EQ(halves[i].done, expected.done);
    EXPECT_EQ(halves[i].pending, expected.pending);
    EXPECT_EQ(halves[i].failed, expected.failed);
    EXPECT_EQ(halves[i].points_done, expected.points_done);
    EXPECT_EQ(halves[i].points_left, expected.points_left);
  }
  EXPECT_EQ(halves[0].pending, 2u);
  EXPECT_EQ(halves[1].done, 1u);
  EXPECT_EQ(halves[1].failed, 1u);
  EXPECT_EQ(halves[1].points_left, 1u);
}

// A chunk some of whose points were copied (--reuse): a `reused` record after its `done`, the
// reuse columns of its row, and the counts; a later `done` alone (a rerun) computes them all.
TEST_F(ChunkLedgerTest, ReusedPointsAreRecordedAndCountedUntilTheChunkIsComputedAgain) {
  {
    OutputFile file = Open();
    ChunkLedger ledger = ChunkLedger::ForNewOutput(file);
    Journal journal = Journal::Create(path_ + ".journal");
    ledger.RecordInto(&journal);
    DoneChunk done{WriteRows(file, 1), 0.25, 1.7e9, 1 << 20, 1, 1};
    done.reused = 2;
    const ReusedFrom from{"/data/old.h5", 4, 5};
    ledger.RecordDone(Plan(10, 3).chunk(1), done, "node-a", &from);
    DoneChunk computed{WriteRows(file, 2), 0.25, 1.7e9, 1 << 20, 1, 1};
    ledger.RecordDone(Plan(10, 3).chunk(2), computed, "node-a", &from);  // reused 0: none
    EXPECT_EQ(ledger.Count().points_reused, 2u);
  }
  OutputFile file = Open();
  const ChunkProvenance p = file.ReadChunkProvenance();
  EXPECT_EQ(p.reused, (std::vector<uint64_t>{0, 2, 0, 0}));
  EXPECT_EQ(p.reused_files.at(p.reused_from[1]), "/data/old.h5");
  EXPECT_EQ(p.reused_from[2], 0);
  EXPECT_EQ(p.reused_first_chunk[1], 4u);
  EXPECT_EQ(p.reused_last_chunk[1], 5u);
  std::vector<JournalRecord> records = Journal::Read(path_ + ".journal").records;
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].type, "done");
  EXPECT_EQ(records[1].type, "reused");
  EXPECT_EQ(records[1].chunk, 1u);
  EXPECT_EQ(records[1].points, 2u);
  EXPECT_EQ(records[1].from, "/data/old.h5");
  EXPECT_EQ(records[1].first_chunk, 4u);
  EXPECT_EQ(records[1].last_chunk, 5u);
  EXPECT_EQ(records[2].type, "done");
  // The journal alone (the table's columns zeroed, as a kill before the row leaves them) folds
  // the same count; a rerun of the chunk, a `done` without `reused`, computed them all.
  const uint64_t zero[4] = {0, 0, 0, 0};
  {
    const int fd = open(path_.c_str(), O_WRONLY);
    ASSERT_EQ(pwrite(fd, zero, sizeof zero, off_t(file.layout().chunk_reused.offset)), 32);
    close(fd);
  }
  EXPECT_EQ(ChunkLedger::Load(file).Count().points_reused, 2u);
  {
    ChunkLedger ledger = ChunkLedger::Load(file);
    Journal journal = Journal::OpenForAppend(path_ + ".journal");
    ledger.RecordInto(&journal);
    ledger.RecordDone(Plan(10, 3).chunk(1), DoneChunk{WriteRows(file, 1), 0.25, 1.7e9, 1, 1, 2},
                      "node-a");
    EXPECT_EQ(ledger.Count().points_reused, 0u);
  }
  EXPECT_EQ(ChunkLedger::Load(file).Count().points_reused, 0u);
}

// A kill between the journal record and the status byte: the journal is the truth.
TEST_F(ChunkLedgerTest, AChunkTheJournalCallsDoneIsDoneBeforeItsStatusByteIsWritten) {
  OutputFile file = Open();
  const uint64_t sum = WriteRows(file, 2);
  {
    Journal journal = Journal::Create(path_ + ".journal");
    journal.Append(Done(2, sum, 1.0));
  }
  ChunkLedger ledger = ChunkLedger::Load(file);
  EXPECT_EQ(Statuses(ledger), (std::vector<ChunkStatus>{kP, kP, kD, kP}));
  ChunkSelection unfinished;
  unfinished.kind = ChunkSelection::Kind::kUnfinished;
  EXPECT_EQ(ledger.VerifyDone(unfinished), 0u);
  EXPECT_EQ(ledger.Todo(unfinished), (std::vector<uint64_t>{0, 1, 3}));
}

TEST_F(ChunkLedgerTest, TornRowsSendADoneChunkBackToPendingWhereVerified) {
  OutputFile file = Open();
  const uint64_t sum0 = WriteRows(file, 0), sum1 = WriteRows(file, 1);
  {
    Journal journal = Journal::Create(path_ + ".journal");
    journal.Append(Done(0, sum0, 1.0));
    journal.Append(Done(1, sum1, 2.0));
  }
  const double garbage = -1;
  file.WriteRows(0, 4, 1, &garbage);  // point 4: chunk 1
  ChunkLedger ledger = ChunkLedger::Load(file);
  ChunkSelection other_shard;
  other_shard.kind = ChunkSelection::Kind::kUnfinished;
  other_shard.shard = std::make_pair(uint64_t{0}, uint64_t{2});  // chunks 0 and 2
  EXPECT_EQ(ledger.VerifyDone(other_shard), 0u);
  EXPECT_EQ(ledger.status(1), kD);
  ChunkSelection all;
  all.kind = ChunkSelection::Kind::kUnfinished;
  EXPECT_EQ(ledger.VerifyDone(all), 1u);
  EXPECT_EQ(Statuses(ledger), (std::vector<ChunkStatus>{kD, kP, kP, kP}));
  EXPECT_EQ(ledger.Todo(all), (std::vector<uint64_t>{1, 2, 3}));
}

// VerifyDone reads runs of chunks at once (through gaps of chunks it does not check): every torn
// chunk is still found, in every output, and no other.
TEST(ChunkLedgerVerifyTest, RunsOfChunksAreReadAtOnceAndEveryTornChunkIsFound) {
  TempDir dir;
  const std::string path = dir / "out.h5";
  OutputLayoutSpec spec = TenPoints();
  spec.points = 100000;
  spec.chunk_size = 3;
  spec.chunks = 33334;
  spec.dimensions[0].size = spec.points;
  spec.outputs = {{"x", SWEEP_FLOAT64, 0, {}}, {"v", SWEEP_INT32, 1, {5}}};
  CreateOutputFile(path, spec);
  OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
  const Plan plan(spec.points, spec.chunk_size);
  std::vector<double> x(spec.points);
  std::vector<int32_t> v(spec.points * 5);
  for (uint64_t p = 0; p < spec.points; ++p) x[p] = double(p) / 7;
  for (size_t i = 0; i < v.size(); ++i) v[i] = int32_t(i * 2654435761u);
  file.WriteRows(0, 0, spec.points, x.data());
  file.WriteRows(1, 0, spec.points, v.data());
  for (uint64_t c = 0; c < plan.chunks(); ++c) {
    if (c % 10 == 8) continue;  // pending: gaps in the runs
    const Chunk chunk = plan.chunk(c);
    ChunkChecksum checksum(2);
    checksum.Add(0, &x[chunk.first], chunk.count * 8);
    checksum.Add(1, &v[chunk.first * 5], chunk.count * 20);
    file.WriteChunkRow(c, {ChunkStatus::kDone, 1, 0.1, checksum.Finish()});
  }
  // Tear one byte of some done chunks, in either output; and of a pending one.
  const std::vector<uint64_t> torn = {0, 1, 2, 4, 5000, 17777, 33333};
  for (uint64_t c : torn) {
    const Chunk chunk = plan.chunk(c);
    const int32_t garbage = -1;
    if (c % 2) {
      file.WriteRows(1, chunk.end() - 1, 1, std::vector<int32_t>(5, garbage).data());
    } else {
      const double nan = std::nan("");
      file.WriteRows(0, chunk.first, 1, &nan);
    }
  }
  file.WriteRows(0, plan.chunk(18).first, 1, &x[0]);
  ChunkLedger ledger = ChunkLedger::Load(file);
  ChunkSelection odd_shard;
  odd_shard.kind = ChunkSelection::Kind::kUnfinished;
  odd_shard.shard = std::make_pair(uint64_t{1}, uint64_t{2});
  EXPECT_EQ(ledger.VerifyDone(odd_shard), 3u);  // 1, 5000 is even, 17777, 33333
  ChunkSelection all;
  all.kind = ChunkSelection::Kind::kUnfinished;
  EXPECT_EQ(ledger.VerifyDone(all), 4u);  // the rest: 0, 2, 4, 5000
  for (uint64_t c = 0; c < plan.chunks(); ++c) {
    const bool pending = c % 10 == 8 || std::count(torn.begin(), torn.end(), c);
    ASSERT_EQ(ledger.status(c), pending ? kP : kD) << "chunk " << c;
  }
}

// Like ninja's deps log: the journal cut at every byte length loads, with exactly the records
// whose lines are whole, and reports a cut that is not at a line's end.
TEST_F(ChunkLedgerTest, AJournalCutAtEveryByteLengthLoadsItsWholeRecords) {
  OutputFile file = Open();
  const std::string journal_path = path_ + ".journal";
  std::vector<size_t> ends;  // the length after each whole line
  {
    Journal journal = Journal::Create(journal_path);
    ends.push_back(std::filesystem::file_size(journal_path));
    JournalRecord started;
    started.type = "started";
    started.time = 1;
    started.command = "run";
    for (const JournalRecord& r : {started, Done(0, 11, 2.0), Failed(1, 3.0, true),
                                   Done(2, 22, 4.0), Failed(1, 5.0, false), Done(1, 33, 6.0)}) {
      journal.Append(r);
      ends.push_back(std::filesystem::file_size(journal_path));
    }
  }
  std::ifstream in(journal_path, std::ios::binary);
  const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The statuses after each whole line (line 0: the header).
  const std::vector<std::vector<ChunkStatus>> after = {
      {kP, kP, kP, kP}, {kP, kP, kP, kP}, {kD, kP, kP, kP}, {kD, kF, kP, kP},
      {kD, kF, kD, kP}, {kD, kF, kD, kP}, {kD, kD, kD, kP}};
  for (size_t length = 0; length <= whole.size(); ++length) {
    std::ofstream(journal_path, std::ios::binary | std::ios::trunc) << whole.substr(0, length);
    size_t whole_lines = 0;
    while (whole_lines < ends.size() && ends[whole_lines] <= length) ++whole_lines;
    const bool at_line_end = whole_lines > 0 && ends[whole_lines - 1] == length;
    std::optional<ChunkLedger> ledger;
    ASSERT_NO_THROW(ledger.emplace(ChunkLedger::Load(file))) << "length " << length;
    EXPECT_EQ(Statuses(*ledger), after[whole_lines == 0 ? 0 : whole_lines - 1])
        << "length " << length;
    EXPECT_EQ(ledger->truncated_journals().empty(), at_line_end) << "length " << length;
  }
}

// A damaged record is skipped and reported; the records after it still count. Its chunk is as
// /chunks says (the row is written after the record), and a resume verifies every done chunk.
TEST_F(ChunkLedgerTest, ADamagedRecordInTheMiddleIsSkippedAndLaterRecordsApply) {
  OutputFile file = Open();
  const uint64_t sum1 = WriteRows(file, 1), sum2 = WriteRows(file, 2);
  const std::string journal_path = path_ + ".journal";
  size_t damaged_at = 0;
  {
    Journal journal = Journal::Create(journal_path);
    journal.Append(Done(0, 11, 1.0));  // chunk 0's rows were never written: 11 is wrong
    damaged_at = std::filesystem::file_size(journal_path) + 10;
    journal.Append(Done(1, sum1, 2.0));
    journal.Append(Failed(3, 3.0, true));
    journal.Append(Done(2, sum2, 4.0));
  }
  file.WriteChunkRow(1, {ChunkStatus::kDone, 1, 0.5, sum1});
  std::fstream damage(journal_path, std::ios::binary | std::ios::in | std::ios::out);
  damage.seekp(long(damaged_at));
  damage.put('\x5a');
  damage.close();

  ChunkLedger ledger = ChunkLedger::Load(file);
  EXPECT_EQ(Statuses(ledger), (std::vector<ChunkStatus>{kD, kD, kD, kF}));
  EXPECT_EQ(ledger.damaged_records(), 1u);
  ASSERT_EQ(ledger.damaged_journals().size(), 1u);
  EXPECT_EQ(ledger.damaged_journals()[0].first, journal_path);
  EXPECT_TRUE(ledger.truncated_journals().empty());
  EXPECT_EQ(ledger.failures().count(3), 1u);
  ChunkSelection unfinished;
  unfinished.kind = ChunkSelection::Kind::kUnfinished;
  EXPECT_EQ(ledger.VerifyDone(unfinished), 1u);
  EXPECT_EQ(Statuses(ledger), (std::vector<ChunkStatus>{kP, kD, kD, kF}));
  EXPECT_EQ(ledger.Todo(unfinished), (std::vector<uint64_t>{0, 3}));
}

// Outputs made before journal version 2 are folded the same way.
TEST_F(ChunkLedgerTest, AVersion1JournalIsFolded) {
  OutputFile file = Open();
  const uint64_t sum = WriteRows(file, 2);
  std::ofstream(path_ + ".journal", std::ios::binary)
      << "{\"journal\":\"sweep\",\"version\":1}\n"
      << EncodeJournalRecord(Done(2, sum, 1.0)) << "\n"
      << EncodeJournalRecord(Failed(1, 2.0, true)) << "\n";
  ChunkLedger ledger = ChunkLedger::Load(file);
  EXPECT_EQ(Statuses(ledger), (std::vector<ChunkStatus>{kP, kF, kD, kP}));
  EXPECT_EQ(ledger.failures().at(1).reason, "SIGSEGV (Segmentation fault)");
  ChunkSelection unfinished;
  unfinished.kind = ChunkSelection::Kind::kUnfinished;
  EXPECT_EQ(ledger.VerifyDone(unfinished), 0u);
  // A shard that ran after the upgrade writes the current version beside it: merged in time order.
  {
    Journal shard = Journal::Create(path_ + ".journal.shard-1-of-2");
    shard.Append(Done(1, 5, 3.0));
    shard.Append(Failed(3, 0.5, true));  // older than everything in the version-1 journal
  }
  ledger = ChunkLedger::Load(file);
  EXPECT_EQ(Statuses(ledger), (std::vector<ChunkStatus>{kP, kD, kD, kF}));
  EXPECT_EQ(ledger.failures().count(1), 0u);
}

// Shards write their own journals at the same time; the latest event of a chunk wins, whichever
// journal holds it.
TEST_F(ChunkLedgerTest, EveryShardsJournalIsFoldedInTimeOrder) {
  OutputFile file = Open();
  {
    Journal shard0 = Journal::Create(path_ + ".journal.shard-0-of-2");
    Journal shard1 = Journal::Create(path_ + ".journal.shard-1-of-2");
    shard0.Append(Done(0, 1, 1.0));
    shard1.Append(Failed(1, 2.0, true));
    shard0.Append(Done(2, 3, 3.0));
    shard1.Append(Failed(3, 4.0, true));
    // A rerun (the plain journal) later finished chunk 1 and failed chunk 2 again.
    Journal rerun = Journal::Create(path_ + ".journal");
    rerun.Append(Done(1, 5, 5.0));
    rerun.Append(Failed(2, 6.0, true));
  }
  const ChunkLedger ledger = ChunkLedger::Load(file);
  EXPECT_EQ(Statuses(ledger), (std::vector<ChunkStatus>{kD, kD, kF, kF}));
  ASSERT_EQ(ledger.failures().size(), 2u);
  EXPECT_EQ(ledger.failures().at(2).reason, "SIGSEGV (Segmentation fault)");
  EXPECT_EQ(ledger.failures().count(1), 0u);
}

TEST_F(ChunkLedgerTest, ARerunComputesExactlyWhatWasChosen) {
  OutputFile file = Open();
  {
    Journal journal = Journal::Create(path_ + ".journal");
    journal.Append(Done(0, 1, 1.0));
    journal.Append(Failed(2, 2.0, true));
  }
  const ChunkLedger ledger = ChunkLedger::Load(file);
  ChunkSelection chosen;
  chosen.kind = ChunkSelection::Kind::kChosen;
  chosen.failed = true;
  EXPECT_EQ(ledger.Todo(chosen), (std::vector<uint64_t>{2}));
  chosen.chunks = {{0, 0}, {2, 2}};
  chosen.points = {{9, 9}, {1, 1}};  // chunks 3 and 0
  EXPECT_EQ(ledger.Todo(chosen), (std::vector<uint64_t>{0, 2, 3}));
  chosen.points = {{2, 5}};  // chunks 0 and 1, with chosen.chunks 0 and 2
  EXPECT_EQ(ledger.Todo(chosen), (std::vector<uint64_t>{0, 1, 2}));
  chosen.points = {{10, 10}};
  try {
    ledger.Todo(chosen);
    FAIL() << "point 10 of 10 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_STREQ(e.what(), "--points: point 10 does not exist (the sweep has 10)");
  }
  // A range far past the sweep is refused before it is expanded, naming its first missing index.
  chosen.points = {{0, 100000000}, {uint64_t{1} << 62, ~uint64_t{0}}};
  try {
    ledger.Todo(chosen);
    FAIL() << "points 0-100000000 of 10 were accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--points: point 10 does not exist (the sweep has 10)");
  }
  chosen.points = {};
  chosen.chunks = {{4, 4}};
  EXPECT_THROW(ledger.Todo(chosen), Error);
}

}  // namespace
}  // namespace sweep
