#include "driver/worker_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "io/error.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using testing::ReadFile;
using testing::WriteFile;

constexpr uint64_t kRotate = 4096;

// Line k of a worker's output: "line <k> ..." padded to 100 bytes with its newline.
std::string Line(int k) {
  std::string line = "line " + std::to_string(k) + " ";
  line.resize(99, '.');
  return line + "\n";
}

// Writes `text` into the pipe of `log`, copying as it goes (the pipe holds less than a flood).
void Print(WorkerLog& log, int write_end, const std::string& text) {
  for (size_t at = 0; at < text.size(); at += 1000) {
    const std::string piece = text.substr(at, 1000);
    ASSERT_EQ(write(write_end, piece.data(), piece.size()), ssize_t(piece.size()));
    log.Drain();
  }
}

uint64_t Size(const std::string& path) {
  return std::filesystem::exists(path) ? std::filesystem::file_size(path) : 0;
}

// A worker that prints without end keeps its last rotate_bytes, in two files that never hold
// more than twice that, and the tail a failure shows reads across the two.
TEST(WorkerLogTest, AFloodKeepsItsLastBytesInBoundedSpace) {
  TempDir dir;
  const std::string path = dir / "worker-0.log";
  WorkerLog log(path, kRotate);
  ScopedFd write_end = log.Begin();
  std::string printed;
  for (int k = 0; k < 1000; ++k) printed += Line(k);  // 100 KB, 25 times the limit
  Print(log, write_end.get(), printed);
  write_end.reset();
  log.End();
  EXPECT_EQ(log.fd(), -1);
  EXPECT_LT(Size(path), kRotate);
  EXPECT_EQ(Size(path + ".1"), kRotate);
  const std::string kept = ReadFile(path + ".1") + ReadFile(path);
  EXPECT_EQ(kept, printed.substr(printed.size() - kept.size()));
  // 100 000 bytes in 4096-byte files: the last one holds 1696 of them, the tail reaches back
  // into the older one for the rest.
  EXPECT_EQ(Size(path), printed.size() % kRotate);
  const std::string tail = ReadLogTail(path, 2048);
  EXPECT_EQ(tail + "\n", printed.substr(printed.size() - 2000));
}

// Rotated just before a failure's last words: the tail still holds the lines before them.
TEST(WorkerLogTest, LastWordsJustAfterARotationKeepTheirLinesBefore) {
  TempDir dir;
  const std::string path = dir / "worker-0.log";
  WorkerLog log(path, kRotate);
  ScopedFd write_end = log.Begin();
  std::string printed;
  for (int k = 0; k < 40; ++k) printed += Line(k);
  printed.resize(kRotate, '-');  // the file is full...
  printed += "last words\n";     // ...so these begin the next one
  Print(log, write_end.get(), printed);
  write_end.reset();
  log.End();
  EXPECT_EQ(ReadFile(path), "last words\n");
  const std::string tail = ReadLogTail(path, 512);
  EXPECT_EQ(tail.substr(tail.size() - 10), "last words");
  EXPECT_GT(tail.size(), 400u) << tail;
}

// Logs are appended across runs (a rerun starts its workers again): one already over the limit
// is rotated at the first byte, never grown.
TEST(WorkerLogTest, ALogLeftByEarlierRunsIsRotatedNotGrown) {
  TempDir dir;
  const std::string path = dir / "worker-0.log";
  WriteFile(path, std::string(3 * kRotate, 'o'));
  WorkerLog log(path, kRotate);
  ScopedFd write_end = log.Begin();
  Print(log, write_end.get(), Line(1));
  write_end.reset();
  log.End();
  EXPECT_EQ(ReadFile(path), Line(1));
  EXPECT_EQ(Size(path + ".1"), 3 * kRotate);  // the one before is kept once, then replaced
  write_end = log.Begin();
  Print(log, write_end.get(), std::string(kRotate, 'n'));
  write_end.reset();
  log.End();
  EXPECT_EQ(ReadFile(path + ".1"), Line(1) + std::string(kRotate - Line(1).size(), 'n'));
  EXPECT_EQ(Size(path), Line(1).size());
}

// The user deletes the log, or its whole folder, while the worker prints: the log starts again
// at its path, or (no folder) the output goes to the file held, emptied at each rotation; the
// space stays bounded and the driver goes on.
TEST(WorkerLogTest, ALogDeletedWhileItIsWrittenStartsAgain) {
  TempDir dir;
  std::filesystem::create_directory(dir / "logs");
  const std::string path = dir / "logs/worker-0.log";
  WorkerLog log(path, kRotate);
  ScopedFd write_end = log.Begin();
  Print(log, write_end.get(), std::string(kRotate - 100, 'a'));
  std::filesystem::remove(path);
  Print(log, write_end.get(), std::string(200, 'b') + "after\n");
  EXPECT_EQ(ReadLogTail(path, 200), std::string(100, 'b') + "after");
  std::filesystem::remove_all(dir / "logs");
  std::string flood;
  for (int k = 0; k < 1000; ++k) flood += Line(k);
  Print(log, write_end.get(), flood);  // into the unlinked file, emptied at each rotation
  EXPECT_FALSE(std::filesystem::exists(dir / "logs"));
  write_end.reset();
  log.End();
  EXPECT_EQ(log.fd(), -1);
}

// The log is not followed through a link planted at its path.
TEST(WorkerLogTest, ALinkAtItsPathIsRefused) {
  TempDir dir;
  WriteFile(dir / "thesis.tex", "mine\n");
  std::filesystem::create_symlink(dir / "thesis.tex", dir / "worker-0.log");
  WorkerLog log(dir / "worker-0.log", kRotate);
  EXPECT_THROW(log.Begin(), Error);
  EXPECT_EQ(ReadFile(dir / "thesis.tex"), "mine\n");
}

}  // namespace
}  // namespace sweep
