#include "io/journal.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "io/error.h"
#include "tests/fakes.h"

namespace sweep {
namespace {

using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Spit(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::vector<JournalRecord> SampleRecords() {
  JournalRecord started;
  started.type = "started";
  started.time = 1.5;
  started.pid = 4242;
  started.command = "run";
  started.workers = 2;
  JournalRecord done;
  done.type = "done";
  done.chunk = 7;
  done.checksum = 0xfedcba9876543210ULL;
  done.seconds = 0.25;
  done.worker = 1;
  done.attempt = 2;
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

TEST(JournalTest, RecordsRoundTrip) {
  TempDir dir;
  const std::string path = dir / "out.h5.journal";
  {
    Journal j = Journal::Create(path);
    for (const JournalRecord& r : SampleRecords()) j.Append(r);
  }
  const JournalContents c = Journal::Read(path);
  EXPECT_FALSE(c.truncated);
  ASSERT_EQ(c.records.size(), 4u);
  EXPECT_EQ(c.records[0].pid, 4242);
  EXPECT_EQ(c.records[0].command, "run");
  EXPECT_EQ(c.records[1].chunk, 7u);
  EXPECT_EQ(c.records[1].checksum, 0xfedcba9876543210ULL);
  EXPECT_EQ(c.records[1].attempt, 2);
  EXPECT_EQ(c.records[2].point, std::optional<uint64_t>(37));
  EXPECT_EQ(c.records[2].reason, "SIGSEGV (Segmentation fault)");
  EXPECT_EQ(c.records[2].params_json, R"({"name":"a\"b","rho":2.5})");
  EXPECT_EQ(c.records[2].stderr_tail.substr(0, 9), "line one\n");
  EXPECT_EQ(c.records[3].reason, "finished");
  // One line per record plus the header.
  const std::string text = Slurp(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);
  EXPECT_EQ(text.substr(0, text.find('\n')), R"({"journal":"sweep","version":1})");
}

// Like ninja's deps log test: reload the journal cut at every byte length.
TEST(JournalTest, ReloadsAfterACutAtEveryByteLength) {
  TempDir dir;
  const std::string path = dir / "full.journal";
  {
    Journal j = Journal::Create(path);
    for (const JournalRecord& r : SampleRecords()) j.Append(r);
  }
  const std::string full = Slurp(path);
  std::vector<size_t> line_ends;
  for (size_t i = 0; i < full.size(); ++i)
    if (full[i] == '\n') line_ends.push_back(i + 1);

  const std::string cut = dir / "cut.journal";
  for (size_t length = 0; length <= full.size(); ++length) {
    Spit(cut, full.substr(0, length));
    JournalContents c;
    ASSERT_NO_THROW(c = Journal::Read(cut)) << "length " << length;
    size_t whole_lines = 0;
    for (size_t end : line_ends) whole_lines += end <= length;
    const bool at_boundary = length > 0 && std::count(line_ends.begin(), line_ends.end(), length);
    EXPECT_EQ(c.truncated, !at_boundary) << "length " << length;
    EXPECT_EQ(c.records.size(), whole_lines > 0 ? whole_lines - 1 : 0) << "length " << length;

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

TEST(JournalTest, DamageBeforeTheLastLineIsAnError) {
  TempDir dir;
  const std::string path = dir / "j";
  Spit(path,
       "{\"journal\":\"sweep\",\"version\":1}\n{\"type\":\"done\"\ngarbage\n{\"type\":\"done\"}\n");
  EXPECT_THROW(Journal::Read(path), Error);
}

TEST(JournalTest, OtherVersionsAreRefusedNamingBoth) {
  TempDir dir;
  const std::string path = dir / "j";
  Spit(path, "{\"journal\":\"sweep\",\"version\":9}\n");
  try {
    Journal::Read(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("version 9, but this sweep reads version 1"),
              std::string::npos);
    EXPECT_EQ(e.code(), ExitCode::kUsage);
  }
}

TEST(JournalTest, WriteToAFullDiskThrows) {
  // /dev/full fails every write with ENOSPC.
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  EXPECT_THROW(Journal::Create("/dev/full"), Error);
}

}  // namespace
}  // namespace sweep
