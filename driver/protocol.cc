#include "driver/protocol.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "io/error.h"

namespace sweep {
namespace {

template <typename T>
void Put(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof value);
}

// Reads fields in order and remembers whether the message was long enough for all of them.
class Reader {
 public:
  Reader(const char* data, size_t size) : data_(data), size_(size) {}
  template <typename T>
  T Get() {
    T value{};
    if (pos_ + sizeof value > size_) {
      ok_ = false;
      return value;
    }
    std::memcpy(&value, data_ + pos_, sizeof value);
    pos_ += sizeof value;
    return value;
  }
  std::string Rest() {
    std::string rest(data_ + pos_, size_ - pos_);
    pos_ = size_;
    return rest;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == size_; }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

Message Message::Assign(uint64_t first_chunk, uint64_t chunk_count) {
  Message m;
  m.type = MessageType::kAssign;
  m.chunk = first_chunk;
  m.count = chunk_count;
  return m;
}

Message Message::Shutdown() { return Message{}; }

Message Message::Ready(int64_t pid) {
  Message m;
  m.type = MessageType::kReady;
  m.pid = pid;
  return m;
}

Message Message::Done(uint64_t chunk, uint64_t checksum, double seconds, double start_time,
                      uint64_t max_rss, uint64_t reused) {
  Message m;
  m.type = MessageType::kDone;
  m.chunk = chunk;
  m.checksum = checksum;
  m.seconds = seconds;
  m.start_time = start_time;
  m.max_rss = max_rss;
  m.reused = reused;
  return m;
}

Message Message::Failed(uint64_t chunk, uint64_t point, std::string reason) {
  Message m;
  m.type = MessageType::kFailed;
  m.chunk = chunk;
  m.point = point;
  m.text = std::move(reason);
  return m;
}

Message Message::Fatal(std::string reason) {
  Message m;
  m.type = MessageType::kFatal;
  m.text = std::move(reason);
  return m;
}

FailureText SplitFailureText(const std::string& text) {
  const size_t line_end = text.find('\n');
  if (line_end == std::string::npos) return {text, ""};
  return {text.substr(0, line_end), text.substr(line_end + 1)};
}

Message Message::Returned(uint64_t first_chunk, uint64_t chunk_count) {
  Message m = Assign(first_chunk, chunk_count);
  m.type = MessageType::kReturned;
  return m;
}

std::string EncodeMessage(const Message& m) {
  std::string out;
  Put(&out, kProtocolMagic);
  Put(&out, static_cast<uint32_t>(m.type));
  switch (m.type) {
    case MessageType::kAssign:
    case MessageType::kReturned:
      Put(&out, m.chunk);
      Put(&out, m.count);
      break;
    case MessageType::kShutdown:
      break;
    case MessageType::kReady:
      Put(&out, m.pid);
      break;
    case MessageType::kDone:
      Put(&out, m.chunk);
      Put(&out, m.checksum);
      Put(&out, m.seconds);
      Put(&out, m.start_time);
      Put(&out, m.max_rss);
      Put(&out, m.reused);
      break;
    case MessageType::kFailed:
      Put(&out, m.chunk);
      Put(&out, m.point);
      out += m.text;
      break;
    case MessageType::kFatal:
      out += m.text;
      break;
  }
  if (out.size() > kMaxMessageBytes) out.resize(kMaxMessageBytes);
  return out;
}

std::optional<Message> DecodeMessage(const char* data, size_t size) {
  Reader in(data, size);
  if (in.Get<uint32_t>() != kProtocolMagic || !in.ok()) return std::nullopt;
  Message m;
  m.type = static_cast<MessageType>(in.Get<uint32_t>());
  switch (m.type) {
    case MessageType::kAssign:
    case MessageType::kReturned:
      m.chunk = in.Get<uint64_t>();
      m.count = in.Get<uint64_t>();
      break;
    case MessageType::kShutdown:
      break;
    case MessageType::kReady:
      m.pid = in.Get<int64_t>();
      break;
    case MessageType::kDone:
      m.chunk = in.Get<uint64_t>();
      m.checksum = in.Get<uint64_t>();
      m.seconds = in.Get<double>();
      m.start_time = in.Get<double>();
      m.max_rss = in.Get<uint64_t>();
      m.reused = in.Get<uint64_t>();
      break;
    case MessageType::kFailed:
      m.chunk = in.Get<uint64_t>();
      m.point = in.Get<uint64_t>();
      m.text = in.Rest();
      break;
    case MessageType::kFatal:
      m.text = in.Rest();
      break;
    default:
      return std::nullopt;
  }
  if (!in.ok() || !in.at_end()) return std::nullopt;
  return m;
}

bool SendMessage(int fd, const Message& message) {
  const std::string bytes = EncodeMessage(message);
  for (;;) {
    if (send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) >= 0) return true;
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return false;
    throw Error(std::string("protocol: send: ") + std::strerror(errno));
  }
}

std::optional<Message> ReceiveMessage(int fd) {
  char buffer[kMaxMessageBytes];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) return std::nullopt;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) return std::nullopt;
      throw Error(std::string("protocol: recv: ") + std::strerror(errno));
    }
    std::optional<Message> m = DecodeMessage(buffer, size_t(n));
    if (!m) throw Error("protocol: malformed message of " + std::to_string(n) + " bytes");
    return m;
  }
}

}  // namespace sweep
