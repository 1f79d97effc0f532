#include "driver/protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "io/error.h"
#include "io/process.h"

namespace sweep {
namespace {

std::vector<Message> EveryType() {
  return {Message::Assign(7, 3),
          Message::Shutdown(),
          Message::Ready(42),
          Message::Done(9, 0xdeadbeefcafeULL, 1.25, 1.7e9 + 0.5, uint64_t{3} << 33, 17),
          Message::Failed(2, 20, "bad \n point"),
          Message::Fatal("no kernel")};
}

void ExpectSame(const Message& a, const Message& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.chunk, b.chunk);
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.point, b.point);
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_EQ(a.seconds, b.seconds);
  EXPECT_EQ(a.start_time, b.start_time);
  EXPECT_EQ(a.max_rss, b.max_rss);
  EXPECT_EQ(a.reused, b.reused);
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.text, b.text);
}

TEST(ProtocolTest, EveryMessageRoundTrips) {
  for (const Message& m : EveryType()) {
    const std::string bytes = EncodeMessage(m);
    std::optional<Message> back = DecodeMessage(bytes.data(), bytes.size());
    ASSERT_TRUE(back);
    ExpectSame(*back, m);
  }
}

TEST(ProtocolTest, SizesAreAsTheHeaderSays) {
  EXPECT_EQ(EncodeMessage(Message::Assign(1, 2)).size(), 8u + 16u);
  EXPECT_EQ(EncodeMessage(Message::Shutdown()).size(), 8u);
  EXPECT_EQ(EncodeMessage(Message::Ready(1)).size(), 8u + 8u);
  EXPECT_EQ(EncodeMessage(Message::Done(1, 2, 3, 4, 5, 6)).size(), 8u + 48u);
  EXPECT_EQ(EncodeMessage(Message::Failed(1, 2, "abc")).size(), 8u + 16u + 3u);
  EXPECT_EQ(EncodeMessage(Message::Fatal("abc")).size(), 8u + 3u);
}

TEST(ProtocolTest, RejectsOtherVersionsAndTruncatedMessages) {
  std::string bytes = EncodeMessage(Message::Done(1, 2, 3));
  EXPECT_FALSE(DecodeMessage(bytes.data(), bytes.size() - 1));
  bytes[0] ^= 0x7f;  // the version byte of the magic
  EXPECT_FALSE(DecodeMessage(bytes.data(), bytes.size()));
}

TEST(ProtocolTest, BadMagicUnknownTypeTruncatedOrOversizedAreRejected) {
  const std::string good = EncodeMessage(Message::Assign(1, 2));
  std::string bad_magic = good;
  bad_magic[3] = 'X';
  EXPECT_FALSE(DecodeMessage(bad_magic.data(), bad_magic.size()));
  std::string unknown = good;
  unknown[4] = 99;
  EXPECT_FALSE(DecodeMessage(unknown.data(), unknown.size()));
  EXPECT_FALSE(DecodeMessage(good.data(), 0));
  for (const Message& m : EveryType()) {
    const std::string bytes = EncodeMessage(m);
    // Every cut of a fixed-size message is refused; a text message may end anywhere after
    // its fixed fields, so only cuts into those are.
    const size_t fixed = bytes.size() - m.text.size();
    for (size_t n = 0; n < fixed; ++n)
      EXPECT_FALSE(DecodeMessage(bytes.data(), n)) << int(m.type) << " cut at " << n;
    if (m.text.empty()) {
      const std::string longer = bytes + "x";
      EXPECT_FALSE(DecodeMessage(longer.data(), longer.size())) << int(m.type);
    }
  }
}

TEST(ProtocolTest, ALongReasonIsTruncatedToFit) {
  const std::string reason(3 * kMaxMessageBytes, 'r');
  for (const Message& m : {Message::Failed(4, 40, reason), Message::Fatal(reason)}) {
    const std::string bytes = EncodeMessage(m);
    EXPECT_EQ(bytes.size(), kMaxMessageBytes);
    std::optional<Message> back = DecodeMessage(bytes.data(), bytes.size());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->chunk, m.chunk);
    EXPECT_EQ(back->point, m.point);
    EXPECT_EQ(back->text, reason.substr(0, kMaxMessageBytes - (bytes.size() - back->text.size())));
    EXPECT_LT(back->text.size(), kMaxMessageBytes);
  }
}

class SocketPair : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    a_.reset(fds[0]);
    b_.reset(fds[1]);
  }
  ScopedFd a_, b_;
};

TEST_F(SocketPair, EveryMessageCrossesWithItsBoundaries) {
  for (const Message& m : EveryType()) ASSERT_TRUE(SendMessage(a_.get(), m));
  for (const Message& m : EveryType()) {
    std::optional<Message> got = ReceiveMessage(b_.get());
    ASSERT_TRUE(got);
    ExpectSame(*got, m);
  }
  const Message big = Message::Fatal(std::string(2 * kMaxMessageBytes, 'f'));
  ASSERT_TRUE(SendMessage(b_.get(), big));
  std::optional<Message> got = ReceiveMessage(a_.get());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text.size(), kMaxMessageBytes - 8);
}

TEST_F(SocketPair, EndOfFileWhenThePeerCloses) {
  ASSERT_TRUE(SendMessage(a_.get(), Message::Ready(1)));
  a_.reset();
  // What was sent before the close still arrives, then end of file.
  ASSERT_TRUE(ReceiveMessage(b_.get()));
  EXPECT_FALSE(ReceiveMessage(b_.get()));
  // Sending to a closed peer says so, without SIGPIPE.
  EXPECT_FALSE(SendMessage(b_.get(), Message::Shutdown()));
}

TEST_F(SocketPair, AMalformedMessageIsAnError) {
  const std::string garbage = "not a message";
  ASSERT_EQ(send(a_.get(), garbage.data(), garbage.size(), 0), ssize_t(garbage.size()));
  try {
    ReceiveMessage(b_.get());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "protocol: malformed message of 13 bytes");
  }
}

}  // namespace
}  // namespace sweep
