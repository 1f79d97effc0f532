#include "io/journal.h"

#include <gtest/gtest.h>

#include <cmath>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include <xxhash.h>

#include "io/error.h"
#include "tests/fakes.h"

namespace sweep {
namespace {

using testing::TempDir;

const std::string kHeaderLine = "{\"journal\":\"sweep\",\"version\":3}\n";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Spit(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

JournalRecord Done(uint64_t chunk, double time) {
  JournalRecord done;
  done.type = "done";
  done.time = time;
  done.chunk = chunk;
  done.checksum = 0xfedcba9876543210ULL ^ chunk;
  done.seconds = 0.25;
  done.worker = 1;
  done.attempt = 2;
  done.start_time = time - 0.25;
  done.max_rss = uint64_t{123456} * 1024;
  return done;
}

// A done record as version 2 framed it: the 40-byte payload without start_time and max_rss.
std::string Version2DoneFrame(const JournalRecord& r) {
  std::string frame = EncodeJournalFrame(r);
  frame.resize(4 + 40);
  frame[2] = 40;
  const uint32_t check = XXH32(frame.data(), frame.size(), 0);
  for (int i = 0; i < 4; ++i) frame.push_back(char(uint8_t(check >> (8 * i))));
  return frame;
}

std::vector<JournalRecord> SampleRecords() {
  JournalRecord started;
  started.type = "started";
  started.time = 1.5;
  started.pid = 4242;
  started.command = "run";
  started.workers = 2;
  started.hosts.host = "node-0";
  started.hosts.ranges = {{2, "node-1"}};
  JournalRecord done = Done(7, 2.5);
  JournalRecord failed;
  failed.type = "failed";
  failed.chunk = 3;
  failed.attempt = 1;
  failed.final = true;
  failed.kind = "crashed";
  failed.reason = "SIGSEGV (Segmentation fault)";
  failed.point = 37;
  failed.params_json = R"({"rho":2.5,"name":"a\"b"})";
  failed.stderr_tail = "line one\nline \xff two";  // a newline and invalid UTF-8
  JournalRecord stopped;
  stopped.type = "stopped";
  stopped.reason = "finished";
  return {started, done, failed, stopped};
}

// Writes `records` to a new journal; returns the file's length after the header and after each.
std::vector<size_t> WriteJournal(const std::string& path,
                                 const std::vector<JournalRecord>& records) {
  std::vector<size_t> ends;
  Journal j = Journal::Create(path);
  ends.push_back(std::filesystem::file_size(path));
  for (const JournalRecord& r : records) {
    j.Append(r);
    ends.push_back(std::filesystem::file_size(path));
  }
  return ends;
}

TEST(JournalTest, RecordsRoundTrip) {
  TempDir dir;
  const std::string path = dir / "out.h5.journal";
  WriteJournal(path, SampleRecords());
  const JournalContents c = Journal::Read(path);
  EXPECT_FALSE(c.truncated);
  EXPECT_EQ(c.damaged_records, 0u);
  EXPECT_EQ(c.version, 3);
  ASSERT_EQ(c.records.size(), 4u);
  EXPECT_EQ(c.records[0].type, "started");
  EXPECT_EQ(c.records[0].pid, 4242);
  EXPECT_EQ(c.records[0].command, "run");
  EXPECT_EQ(c.records[0].time, 1.5);
  EXPECT_EQ(c.records[0].hosts.host, "node-0");
  EXPECT_EQ(c.records[0].hosts.ranges, (std::vector<std::pair<int, std::string>>{{2, "node-1"}}));
  EXPECT_EQ(c.records[1].type, "done");
  EXPECT_EQ(c.records[1].time, 2.5);
  EXPECT_EQ(c.records[1].chunk, 7u);
  EXPECT_EQ(c.records[1].checksum, 0xfedcba9876543210ULL ^ 7);
  EXPECT_EQ(c.records[1].seconds, 0.25);
  EXPECT_EQ(c.records[1].worker, 1);
  EXPECT_EQ(c.records[1].attempt, 2);
  EXPECT_EQ(c.records[1].start_time, 2.25);
  EXPECT_EQ(c.records[1].max_rss, uint64_t{123456} * 1024);
  EXPECT_EQ(c.records[2].point, std::optional<uint64_t>(37));
  EXPECT_EQ(c.records[2].reason, "SIGSEGV (Segmentation fault)");
  EXPECT_EQ(c.records[2].params_json, R"({"name":"a\"b","rho":2.5})");
  EXPECT_EQ(c.records[2].stderr_tail.substr(0, 9), "line one\n");
  EXPECT_EQ(c.records[3].reason, "finished");
  EXPECT_EQ(Slurp(path).substr(0, kHeaderLine.size()), kHeaderLine);
}

TEST(JournalTest, ReuseRecordsRoundTrip) {
  TempDir dir;
  const std::string path = dir / "out.h5.journal";
  JournalRecord started;
  started.type = "started";
  started.time = 1;
  started.command = "run";
  started.reuse_json = R"([{"file":"/a/old.h5","points":303}])";
  JournalRecord reused;
  reused.type = "reused";
  reused.time = 2;
  reused.chunk = 9;
  reused.points = 17;
  reused.from = "/a/old.h5";
  reused.first_chunk = 3;
  reused.last_chunk = 4;
  WriteJournal(path, {started, reused});
  const JournalContents c = Journal::Read(path);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(c.records[0].reuse_json),
            nlohmann::json::parse(started.reuse_json));
  EXPECT_EQ(c.records[1].type, "reused");
  EXPECT_EQ(c.records[1].chunk, 9u);
  EXPECT_EQ(c.records[1].points, 17u);
  EXPECT_EQ(c.records[1].from, "/a/old.h5");
  EXPECT_EQ(c.records[1].first_chunk, 3u);
  EXPECT_EQ(c.records[1].last_chunk, 4u);
}

// The figure that makes 10^7 chunks cheap: a done record is 60 bytes, whatever its values.
TEST(JournalTest, ADoneChunkTakesUnder64Bytes) {
  TempDir dir;
  const std::string path = dir / "j";
  std::vector<JournalRecord> records;
  for (uint64_t c = 0; c < 1000; ++c) {
    JournalRecord r = Done(9'999'000 + c, 1.8e9 + double(c) / 3);
    r.seconds = 1234.5678 / double(c + 1);
    r.attempt = int(c % 7);
    r.worker = int(c % 1024);
    r.start_time = 1.8e9 - double(c);
    r.max_rss = (uint64_t{1} << 40) + c * 1024;
    records.push_back(r);
  }
  WriteJournal(path, records);
  const double per_chunk = double(std::filesystem::file_size(path) - kHeaderLine.size()) / 1000;
  EXPECT_LT(per_chunk, 64);
  EXPECT_EQ(per_chunk, 60);
  EXPECT_EQ(EncodeJournalFrame(records[0]).size(), 60u);
  const JournalContents read = Journal::Read(path);
  ASSERT_EQ(read.records.size(), 1000u);
  EXPECT_EQ(read.records[999].start_time, 1.8e9 - 999);
  EXPECT_EQ(read.records[999].max_rss, (uint64_t{1} << 40) + 999 * 1024);
}

// A peak over 4 TiB does not fit the record's 32 bits of KiB: it is kept as the largest that does.
TEST(JournalTest, APeakMemoryTooLargeForADoneRecordSaturates) {
  JournalRecord r = Done(1, 2);
  r.max_rss = uint64_t{1} << 50;
  TempDir dir;
  WriteJournal(dir / "j", {r});
  EXPECT_EQ(Journal::Read(dir / "j").records[0].max_rss, uint64_t{UINT32_MAX} * 1024);
}

TEST(JournalTest, WorkerHostsNameEachWorkersHost) {
  WorkerHosts hosts;
  hosts.host = "a";
  EXPECT_EQ(hosts.Of(0), "a");
  EXPECT_EQ(hosts.Of(7), "a");
  hosts.ranges = {{0, "a"}, {4, "b"}, {6, "c"}};
  EXPECT_EQ(hosts.Of(3), "a");
  EXPECT_EQ(hosts.Of(4), "b");
  EXPECT_EQ(hosts.Of(5), "b");
  EXPECT_EQ(hosts.Of(6), "c");
  EXPECT_EQ(hosts.Of(100), "c");
}

// What a job over many nodes adds: each worker's GPU and each rank's expanded paths in `started`;
// each rank's driver CPU seconds and the ranks lost in `stopped`. A batch of records is one
// write, read back as its records.
TEST(JournalTest, DevicesPathsCpuSecondsAndLostRanksRoundTrip) {
  TempDir dir;
  const std::string path = dir / "j";
  JournalRecord started;
  started.type = "started";
  started.time = 1.5;
  started.hosts.host = "node-0";
  started.hosts.devices = {"0", "1", "", "GPU-8c3f"};
  started.paths[0] = {{"kernel.workdir.root", "/tmp/a/w"}};
  started.paths[2] = {{"kernel.workdir.root", "/tmp/b/w"}, {"inputs.A.npy", "/s/A.npy"}};
  JournalRecord stopped;
  stopped.type = "stopped";
  stopped.time = 9.5;
  stopped.reason = "interrupted";
  stopped.cpu_seconds = {1.25, std::nan(""), 0.5};
  stopped.lost_ranks = {{1, "node-1", 8.75}};
  {
    Journal j = Journal::Create(path);
    j.Append(std::vector<JournalRecord>{started, stopped});
  }
  const JournalContents c = Journal::Read(path);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].hosts.devices, started.hosts.devices);
  EXPECT_EQ(c.records[0].hosts.DeviceOf(3), "GPU-8c3f");
  EXPECT_EQ(c.records[0].hosts.DeviceOf(9), "");
  EXPECT_EQ(c.records[0].paths, started.paths);
  ASSERT_EQ(c.records[1].cpu_seconds.size(), 3u);
  EXPECT_EQ(c.records[1].cpu_seconds[0], 1.25);
  EXPECT_TRUE(std::isnan(c.records[1].cpu_seconds[1]));
  ASSERT_EQ(c.records[1].lost_ranks.size(), 1u);
  EXPECT_EQ(c.records[1].lost_ranks[0].rank, 1);
  EXPECT_EQ(c.records[1].lost_ranks[0].host, "node-1");
  EXPECT_EQ(c.records[1].lost_ranks[0].last_heard, 8.75);
}

// Outputs made with journal version 2 keep working: its 48-byte done records are read (without
// start time and peak memory), and appending rewrites it in version 3, its records kept.
TEST(JournalTest, Version2JournalsAreReadAndRewrittenOnAppend) {
  TempDir dir;
  const std::string path = dir / "out.h5.journal";
  std::string text = "{\"journal\":\"sweep\",\"version\":2}\n";
  text += EncodeJournalFrame(SampleRecords()[0]);
  for (uint64_t c = 0; c < 3; ++c) text += Version2DoneFrame(Done(c, double(c) + 2));
  text += EncodeJournalFrame(SampleRecords()[2]);
  Spit(path, text);
  JournalContents c = Journal::Read(path);
  EXPECT_EQ(c.version, 2);
  EXPECT_EQ(c.damaged_records, 0u);
  ASSERT_EQ(c.records.size(), 5u);
  EXPECT_EQ(c.records[3].type, "done");
  EXPECT_EQ(c.records[3].chunk, 2u);
  EXPECT_EQ(c.records[3].checksum, 0xfedcba9876543210ULL ^ 2);
  EXPECT_EQ(c.records[3].attempt, 2);
  EXPECT_EQ(c.records[3].start_time, 0);
  EXPECT_EQ(c.records[3].max_rss, 0u);
  EXPECT_EQ(c.records[4].reason, "SIGSEGV (Segmentation fault)");
  {
    Journal j = Journal::OpenForAppend(path);
    j.Append(Done(8, 9));
  }
  c = Journal::Read(path);
  EXPECT_EQ(c.version, 3);
  EXPECT_EQ(c.damaged_records, 0u);
  ASSERT_EQ(c.records.size(), 6u);
  EXPECT_EQ(c.records[3].chunk, 2u);
  EXPECT_EQ(c.records[3].start_time, 0);
  EXPECT_EQ(c.records[5].chunk, 8u);
  EXPECT_EQ(c.records[5].start_time, 8.75);
  EXPECT_EQ(Slurp(path).substr(0, kHeaderLine.size()), kHeaderLine);
}

// Like ninja's deps log test: reload the journal cut at every byte length.
TEST(JournalTest, ReloadsAfterACutAtEveryByteLength) {
  TempDir dir;
  const std::string path = dir / "full.journal";
  const std::vector<size_t> ends = WriteJournal(path, SampleRecords());  // header, then records
  const std::string full = Slurp(path);

  const std::string cut = dir / "cut.journal";
  for (size_t length = 0; length <= full.size(); ++length) {
    Spit(cut, full.substr(0, length));
    JournalContents c;
    ASSERT_NO_THROW(c = Journal::Read(cut)) << "length " << length;
    size_t whole = 0;  // whole pieces: the header, then records
    while (whole < ends.size() && ends[whole] <= length) ++whole;
    const bool at_boundary = whole > 0 && ends[whole - 1] == length;
    EXPECT_EQ(c.truncated, !at_boundary) << "length " << length;
    EXPECT_EQ(c.damaged_records, 0u) << "length " << length;
    EXPECT_EQ(c.records.size(), whole > 0 ? whole - 1 : 0) << "length " << length;
    EXPECT_EQ(c.valid_bytes, whole > 0 ? ends[whole - 1] : 0) << "length " << length;

    // Appending after a cut gives a valid journal with the new record last.
    {
      Journal j = Journal::OpenForAppend(cut);
      JournalRecord r;
      r.type = "stopped";
      r.reason = "interrupted";
      j.Append(r);
    }
    const JournalContents after = Journal::Read(cut);
    EXPECT_FALSE(after.truncated) << "length " << length;
    ASSERT_EQ(after.records.size(), c.records.size() + 1) << "length " << length;
    EXPECT_EQ(after.records.back().reason, "interrupted");
  }
}

// Damage in the middle is skipped: the reader resynchronises on the next whole record.
TEST(JournalTest, DamageInTheMiddleIsSkippedAndLaterRecordsAreRead) {
  TempDir dir;
  const std::string path = dir / "j";
  std::vector<JournalRecord> records;
  for (uint64_t c = 0; c < 6; ++c) records.push_back(Done(c, double(c)));
  records.insert(records.begin() + 3, SampleRecords()[2]);  // a failure (JSON) in the middle
  const std::vector<size_t> ends = WriteJournal(path, records);
  const std::string full = Slurp(path);
  struct Case {
    std::string what, text;
    size_t lost;  // records lost
  };
  std::string flipped = full, no_magic = full, long_length = full, zeroed = full;
  flipped[ends[1] + 20] ^= 0x10;  // a bit of record 1's checksum
  no_magic[ends[1]] = 'x';
  long_length[ends[1] + 3] = char(0xff);  // record 1 claims 65280+ bytes
  std::fill(zeroed.begin() + long(ends[1]) + 5, zeroed.begin() + long(ends[4]) + 9, '\0');
  const std::vector<Case> cases = {
      {"a flipped bit", flipped, 1},
      {"a lost magic byte", no_magic, 1},
      {"a wrong length", long_length, 1},
      {"zeros over four records", zeroed, 4},
      {"garbage between records", full.substr(0, ends[2]) + "garbage\xc1" + full.substr(ends[2]),
       0},
      {"half a record inside another",
       full.substr(0, ends[2]) + full.substr(ends[4], 20) + full.substr(ends[2]), 0},
  };
  for (const Case& c : cases) {
    Spit(path, c.text);
    JournalContents read;
    ASSERT_NO_THROW(read = Journal::Read(path)) << c.what;
    EXPECT_FALSE(read.truncated) << c.what;
    EXPECT_EQ(read.damaged_records, 1u) << c.what;
    ASSERT_EQ(read.records.size(), records.size() - c.lost) << c.what;
    EXPECT_EQ(read.records.back().chunk, 5u) << c.what;
    EXPECT_EQ(read.records[0].chunk, 0u) << c.what;
  }
}

// Every record is checked: flipping any byte after the header loses exactly the record that holds
// it (the last one's damage reads as a cut), and never makes up a record.
TEST(JournalTest, EveryFlippedByteIsDetected) {
  TempDir dir;
  const std::string path = dir / "j";
  const std::vector<JournalRecord> records = SampleRecords();
  const std::vector<size_t> ends = WriteJournal(path, records);
  const std::string full = Slurp(path);
  for (size_t at = ends[0]; at < full.size(); ++at) {
    std::string damaged = full;
    damaged[at] = char(~damaged[at]);
    Spit(path, damaged);
    const JournalContents c = Journal::Read(path);
    size_t hit = 0;  // the record holding byte `at`
    while (ends[hit + 1] <= at) ++hit;
    const bool last = hit + 1 == records.size();
    EXPECT_EQ(c.truncated, last) << "byte " << at;
    EXPECT_EQ(c.damaged_records, last ? 0u : 1u) << "byte " << at;
    ASSERT_EQ(c.records.size(), records.size() - 1) << "byte " << at;
    for (size_t i = 0, j = 0; i < records.size(); ++i) {
      if (i == hit) continue;
      EXPECT_EQ(c.records[j].type, records[i].type) << "byte " << at;
      EXPECT_EQ(c.records[j++].chunk, records[i].chunk) << "byte " << at;
    }
  }
}

// Resynchronisation finds every whole record however much garbage lies between them.
TEST(JournalTest, WholeRecordsAreFoundAmidRandomGarbage) {
  TempDir dir;
  const std::string path = dir / "j";
  std::mt19937 random(7);
  std::string text = kHeaderLine;
  uint64_t stretches = 0;
  for (uint64_t c = 0; c < 300; ++c) {
    std::string garbage(random() % 3 ? random() % 200 : 0, '\0');
    for (char& byte : garbage) byte = char(random() % 4 ? random() : 0xc1);
    stretches += !garbage.empty();
    text += garbage;
    JournalRecord r = c % 10 ? Done(c, double(c)) : SampleRecords()[2];
    r.chunk = c;
    text += EncodeJournalFrame(r);
  }
  Spit(path, text + "\xc1J\x10");  // and a cut last record
  const JournalContents read = Journal::Read(path);
  EXPECT_TRUE(read.truncated);
  EXPECT_EQ(read.damaged_records, stretches);
  ASSERT_EQ(read.records.size(), 300u);
  for (uint64_t c = 0; c < 300; ++c) {
    EXPECT_EQ(read.records[c].chunk, c);
    EXPECT_EQ(read.records[c].type, c % 10 ? "done" : "failed");
  }
}

TEST(JournalTest, AFailureTooLongForAFrameIsShortenedKeepingTheEndOfItsStderr) {
  TempDir dir;
  const std::string path = dir / "j";
  JournalRecord failed = SampleRecords()[2];
  failed.stderr_tail = std::string(100000, 'a') + "the end";
  failed.reason = std::string(50000, 'r');
  ASSERT_LE(EncodeJournalFrame(failed).size(), 4u + 65535 + 4);
  WriteJournal(path, {failed, Done(1, 2)});
  const JournalContents c = Journal::Read(path);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].chunk, 3u);
  EXPECT_EQ(c.records[0].stderr_tail.substr(c.records[0].stderr_tail.size() - 7), "the end");
  EXPECT_EQ(c.records[0].params_json, R"({"name":"a\"b","rho":2.5})");
}

// Outputs made before version 2 keep working: their journals are read, damage included.
TEST(JournalTest, Version1JournalsAreRead) {
  TempDir dir;
  const std::string path = dir / "j";
  std::string text = "{\"journal\":\"sweep\",\"version\":1}\n";
  for (const JournalRecord& r : SampleRecords()) text += EncodeJournalRecord(r) + "\n";
  Spit(path, text);
  JournalContents c = Journal::Read(path);
  EXPECT_EQ(c.version, 1);
  EXPECT_FALSE(c.truncated);
  ASSERT_EQ(c.records.size(), 4u);
  EXPECT_EQ(c.records[1].checksum, 0xfedcba9876543210ULL ^ 7);
  EXPECT_EQ(c.records[2].params_json, R"({"name":"a\"b","rho":2.5})");

  // A bad line before the last is skipped and counted; a bad last line is a cut.
  Spit(path, "{\"journal\":\"sweep\",\"version\":1}\n{\"type\":\"done\"\ngarbage\n" +
                 EncodeJournalRecord(Done(4, 1)) + "\n{\"type\":\"do");
  c = Journal::Read(path);
  EXPECT_EQ(c.damaged_records, 2u);
  EXPECT_TRUE(c.truncated);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].chunk, 4u);
  Spit(path, "{\"journal\":\"sweep\",\"version\":1}\ngarbage\n{\"type\":\"do\n");
  c = Journal::Read(path);
  EXPECT_EQ(c.damaged_records, 1u);
  EXPECT_TRUE(c.truncated);
  EXPECT_TRUE(c.records.empty());
}

// Appending to a version-1 journal rewrites it in the current version first: no file mixes two.
TEST(JournalTest, AppendingToAVersion1JournalRewritesItInTheCurrentVersion) {
  TempDir dir;
  const std::string path = dir / "out.h5.journal";
  std::string text = "{\"journal\":\"sweep\",\"version\":1}\n";
  for (const JournalRecord& r : SampleRecords()) text += EncodeJournalRecord(r) + "\n";
  Spit(path, text + "{\"type\":\"done\",\"ti");  // and a partial last line
  {
    Journal j = Journal::OpenForAppend(path);
    j.Append(Done(8, 9));
  }
  const JournalContents c = Journal::Read(path);
  EXPECT_EQ(c.version, 3);
  EXPECT_FALSE(c.truncated);
  ASSERT_EQ(c.records.size(), 5u);
  EXPECT_EQ(c.records[1].chunk, 7u);
  EXPECT_EQ(c.records[2].stderr_tail.substr(0, 9), "line one\n");
  EXPECT_EQ(c.records[4].chunk, 8u);
  EXPECT_EQ(Slurp(path).substr(0, kHeaderLine.size()), kHeaderLine);
  EXPECT_EQ(JournalsOf(dir / "out.h5"), std::vector<std::string>{path});  // no file left beside
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

// A reader goes by path; a journal rewritten under it (a resume upgrading it) is not misread.
TEST(JournalTest, AReaderRefusesAJournalReplacedWhileItReads) {
  TempDir dir;
  const std::string path = dir / "j";
  std::string text = "{\"journal\":\"sweep\",\"version\":1}\n";
  for (uint64_t c = 0; c < 100; ++c) text += EncodeJournalRecord(Done(c, double(c))) + "\n";
  Spit(path, text);
  JournalReader reader(path, 64);
  JournalRecord r;
  ASSERT_TRUE(reader.Next(&r));
  Journal::OpenForAppend(path);  // rewrites it in the current version
  EXPECT_THROW(
      {
        while (reader.Next(&r)) {
        }
      },
      Error);
  EXPECT_EQ(Journal::Read(path).records.size(), 100u);
}

TEST(JournalTest, OtherVersionsAreRefusedNamingBoth) {
  TempDir dir;
  const std::string path = dir / "j";
  Spit(path, "{\"journal\":\"sweep\",\"version\":9}\n");
  try {
    Journal::Read(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("version 9, but this sweep reads version 3"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(e.code(), ExitCode::kUsage);
  }
  // Headers that are not sweep's are refused as such (an Error, exit code 2), whatever they hold.
  for (const char* header :
       {"not a journal", "{\"journal\":5}", "[1,2]", "{\"journal\":\"sweep\",\"version\":\"2\"}"}) {
    Spit(path, std::string(header) + "\nmore\n");
    try {
      Journal::Read(path);
      FAIL() << header;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kUsage) << header;
    }
  }
}

// Shards' journals merge in time order; a journal's own order stands even if its clock went back.
TEST(JournalTest, MergedJournalsComeInTimeOrder) {
  TempDir dir;
  WriteJournal(dir / "a", {Done(0, 1), Done(1, 4), Done(2, 3), Done(3, 7)});
  WriteJournal(dir / "b", {Done(10, 2), Done(11, 4), Done(12, 5)});
  WriteJournal(dir / "c", {});
  MergedJournals merged({dir / "a", dir / "b", dir / "c"});
  std::vector<uint64_t> order;
  std::vector<size_t> journals;
  JournalRecord r;
  size_t journal = 9;
  while (merged.Next(&r, &journal)) {
    order.push_back(r.chunk);
    journals.push_back(journal);
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{0, 10, 1, 2, 11, 12, 3}));
  EXPECT_EQ(journals, (std::vector<size_t>{0, 1, 0, 0, 1, 1, 0}));
  EXPECT_EQ(merged.readers().size(), 3u);
  EXPECT_THROW(MergedJournals({dir / "missing"}), Error);
}

TEST(JournalTest, WriteToAFullDiskThrows) {
  // /dev/full fails every write with ENOSPC.
  ASSERT_EQ(access("/dev/full", W_OK), 0) << "no /dev/full";
  EXPECT_THROW(Journal::Create("/dev/full"), Error);
}

}  // namespace
}  // namespace sweep
