// Tests of StreamFile (io/stream_file.h): a stream saved whole while it is short, capped to its
// head and tail with a line saying what was cut when it is long, never through a link.
#include "io/stream_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "io/error.h"
#include "tests/e2e.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

using testing::ReadFile;

ScopedFd OpenDir(const std::string& path) {
  return ScopedFd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// "line 0\nline 1\n..." up to `n` lines.
std::string Numbered(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += "line " + std::to_string(i) + "\n";
  return text;
}

TEST(StreamFileTest, AShortStreamIsSavedWhole) {
  TempDir dir;
  const ScopedFd fd = OpenDir(dir.path());
  StreamFile file(fd.get(), "stdout.txt", 100, 200);
  const std::string text = Numbered(20);  // 190 bytes, under 100 + 200
  for (size_t at = 0; at < text.size(); at += 7)
    file.Append(text.data() + at, std::min<size_t>(7, text.size() - at));
  EXPECT_EQ(ReadFile(dir / "stdout.txt"), text);  // live, before Close
  file.Close();
  EXPECT_EQ(ReadFile(dir / "stdout.txt"), text);
  EXPECT_EQ(file.stream_bytes(), text.size());
  EXPECT_EQ(file.error(), "");
}

TEST(StreamFileTest, ALongStreamKeepsItsHeadAndTailAndSaysWhatWasCut) {
  TempDir dir;
  const ScopedFd fd = OpenDir(dir.path());
  StreamFile file(fd.get(), "stderr.txt", 64, 128);
  const std::string text = Numbered(5000);
  // In pieces of every size, as a pipe gives them.
  for (size_t at = 0, step = 1; at < text.size(); at += step, step = step % 97 + 1)
    file.Append(text.data() + at, std::min(step, text.size() - at));
  // While it goes on, the file never holds much more than head and two tails.
  EXPECT_LT(std::filesystem::file_size(dir / "stderr.txt"), 64u + 3 * 128 + 128);
  file.Close();
  const std::string saved = ReadFile(dir / "stderr.txt");
  const std::string line = "\n[sweep: " + std::to_string(text.size() - 64 - 128) +
                           " bytes cut here; the first 64 and the last 128 are kept]\n";
  EXPECT_EQ(saved, text.substr(0, 64) + line + text.substr(text.size() - 128));
  EXPECT_EQ(file.stream_bytes(), text.size());
  file.Close();  // twice is harmless
  EXPECT_EQ(ReadFile(dir / "stderr.txt"), saved);
}

TEST(StreamFileTest, ALinkOrAnExistingFileIsNeverWrittenThrough) {
  TempDir dir;
  testing::WriteFile(dir / "precious", "mine");
  std::filesystem::create_symlink(dir / "precious", dir / "stdout.txt");
  const ScopedFd fd = OpenDir(dir.path());
  EXPECT_THROW(StreamFile(fd.get(), "stdout.txt", 10, 10), Error);
  EXPECT_EQ(ReadFile(dir / "precious"), "mine");
  EXPECT_THROW(StreamFile(fd.get(), "precious", 10, 10), Error);
  EXPECT_EQ(ReadFile(dir / "precious"), "mine");
}

}  // namespace
}  // namespace sweep
