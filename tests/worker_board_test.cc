#include "driver/worker_board.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

WorkerBoard ABoard() {
  WorkerBoard board;
  board.pid = 4242;
  board.host = "node7";
  board.command = "run --shard 1/4";
  board.started = 1.7e9;
  board.updated = 1.7e9 + 12.5;
  BoardWorker busy;
  busy.worker = 0;
  busy.node = 2;
  busy.host = "node9";
  busy.pid = 5150;
  busy.state = "busy";
  busy.chunk = 41;
  busy.point = 1302;
  busy.since = 1.7e9 + 12.25;
  busy.chunks_done = 12;
  busy.points_done = 380;
  BoardWorker idle;
  idle.worker = 1;
  idle.state = "idle";
  board.workers = {busy, idle};
  return board;
}

TEST(WorkerBoardTest, PathsBesideTheOutput) {
  EXPECT_EQ(WorkerBoardPath("/r/out.h5", std::nullopt), "/r/out.h5.workers");
  EXPECT_EQ(WorkerBoardPath("/r/out.h5", std::make_pair(uint64_t{3}, uint64_t{8})),
            "/r/out.h5.workers.shard-3-of-8");
}

TEST(WorkerBoardTest, WhatIsWrittenIsReadBack) {
  TempDir dir;
  const WorkerBoard board = ABoard();
  WriteWorkerBoard(dir / "out.h5.workers", board);
  const std::optional<WorkerBoard> read = ReadWorkerBoard(dir / "out.h5.workers");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->pid, 4242);
  EXPECT_EQ(read->host, "node7");
  EXPECT_EQ(read->command, "run --shard 1/4");
  EXPECT_EQ(read->started, board.started);
  EXPECT_EQ(read->updated, board.updated);
  ASSERT_EQ(read->workers.size(), 2u);
  const BoardWorker& w = read->workers[0];
  EXPECT_EQ(w.node, 2);
  EXPECT_EQ(w.host, "node9");
  EXPECT_EQ(w.pid, 5150);
  EXPECT_EQ(w.state, "busy");
  EXPECT_EQ(w.chunk, std::optional<uint64_t>(41));
  EXPECT_EQ(w.point, std::optional<uint64_t>(1302));
  EXPECT_EQ(w.since, board.workers[0].since);
  EXPECT_EQ(w.chunks_done, 12u);
  EXPECT_EQ(w.points_done, 380u);
  EXPECT_EQ(read->workers[1].state, "idle");
  EXPECT_FALSE(read->workers[1].chunk);
  EXPECT_FALSE(read->workers[1].since);
  // The temporary file it went through is gone.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

// A link planted at the board's name is replaced by the board, never written through.
TEST(WorkerBoardTest, ALinkAtItsNameIsReplacedNotFollowed) {
  TempDir dir;
  WriteFile(dir / "precious.txt", "do not touch\n");
  std::filesystem::create_symlink(dir / "precious.txt", dir / "out.h5.workers");
  EXPECT_FALSE(ReadWorkerBoard(dir / "out.h5.workers"));
  WriteWorkerBoard(dir / "out.h5.workers", ABoard());
  EXPECT_EQ(ReadFile(dir / "precious.txt"), "do not touch\n");
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "out.h5.workers"));
  EXPECT_TRUE(ReadWorkerBoard(dir / "out.h5.workers"));
}

TEST(WorkerBoardTest, WhatIsNotABoardOfThisVersionIsNotRead) {
  TempDir dir;
  EXPECT_FALSE(ReadWorkerBoard(dir / "missing"));
  for (const char* text : {"", "{", "[]", "{\"board\":\"sweep\",\"version\":2,\"pid\":1}",
                           "{\"board\":\"other\",\"version\":1}",
                           "{\"board\":\"sweep\",\"version\":1,\"pid\":\"x\"}"}) {
    WriteFile(dir / "b", text);
    EXPECT_FALSE(ReadWorkerBoard(dir / "b")) << text;
  }
  EXPECT_FALSE(ReadWorkerBoard(dir.path()));  // a folder
}

}  // namespace
}  // namespace sweep
