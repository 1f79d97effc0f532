// The driver <-> worker protocol: small binary messages over a SOCK_SEQPACKET socketpair.
//
// SEQPACKET keeps message boundaries, so one send() is one message and no framing is needed;
// a closed peer reads as end of file. Every message starts with an 8-byte header:
//
//   uint32 magic    kProtocolMagic ("SWP" + version byte); a mismatch is a protocol error
//   uint32 type     MessageType
//
// then the type's fields, in the host's byte order (driver and workers are one machine, or one
// MPI job of identical binaries), and for kFailed and kFatal the reason, UTF-8, to the end.
// A whole message is at most kMaxMessageBytes: a longer reason is cut to fit.
//
// Version 3 messages (size in bytes, header included):
//   driver -> worker  kAssign   {uint64 chunk, uint64 count} (24): compute chunks
//                               [chunk, chunk + count)
//                     kShutdown {} (8): finish nothing more, exit 0
//   worker -> driver  kReady    {int64 pid} (16): initialised (inputs mapped, kernel init()ed),
//                               idle
//                     kDone     {uint64 chunk, uint64 checksum, float64 seconds,
//                               float64 start_time, uint64 max_rss, uint64 reused} (56): a
//                               chunk's rows are written; it took `seconds` from `start_time`
//                               (Unix seconds), the worker's peak memory was `max_rss` bytes at
//                               its end, and `reused` of its points were copied from earlier
//                               outputs (driver/reuse.h), not computed
//                     kFailed   {uint64 chunk, uint64 point, reason} (24 + reason): a point
//                               failed; the worker stays usable and goes on with the rest of its
//                               assignment. A reason that starts with kOutOfMemoryReason means
//                               the point ran out of memory. Its first line is the reason; any
//                               lines after it are details (a Python traceback), which the
//                               failure keeps as its log (the journal's "stderr").
//                     kFatal    {reason} (8 + reason): the worker cannot go on (setup failed);
//                               it exits next
//   node -> driver    kReturned {uint64 chunk, uint64 count} (24): under MPI, the assignment
//                               [chunk, chunk + count) that a rank held queued for this worker
//                               is given back unstarted (WorkerSet::Reclaim); never sent by a
//                               worker itself
// A message of an unknown type, cut short, or with bytes after its fixed fields is malformed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sweep {

inline constexpr uint32_t kProtocolVersion = 3;
inline constexpr uint32_t kProtocolMagic = 0x53575000u | kProtocolVersion;  // "SWP\3"
inline constexpr size_t kMaxMessageBytes = 64 * 1024;
inline constexpr char kOutOfMemoryReason[] = "out of memory";

enum class MessageType : uint32_t {
  kAssign = 1,
  kShutdown = 2,
  kReady = 3,
  kDone = 4,
  kFailed = 5,
  kFatal = 6,
  kReturned = 7,
};

struct Message {
  MessageType type = MessageType::kShutdown;
  uint64_t chunk = 0;     // kAssign, kReturned: first chunk; kDone, kFailed: the chunk
  uint64_t count = 0;     // kAssign, kReturned: number of chunks
  uint64_t point = 0;     // kFailed: the failing point
  uint64_t checksum = 0;  // kDone
  double seconds = 0;     // kDone: wall time of the chunk in the worker
  double start_time = 0;  // kDone: when the worker began it, Unix seconds
  uint64_t max_rss = 0;   // kDone: the worker's peak resident memory, bytes
  uint64_t reused = 0;    // kDone: points copied from earlier outputs (--reuse)
  int64_t pid = 0;        // kReady
  std::string text;       // kFailed, kFatal: the reason (truncated to fit kMaxMessageBytes)

  static Message Assign(uint64_t first_chunk, uint64_t chunk_count);
  static Message Shutdown();
  static Message Ready(int64_t pid);
  static Message Done(uint64_t chunk, uint64_t checksum, double seconds, double start_time = 0,
                      uint64_t max_rss = 0, uint64_t reused = 0);
  static Message Failed(uint64_t chunk, uint64_t point, std::string reason);
  static Message Fatal(std::string reason);
  static Message Returned(uint64_t first_chunk, uint64_t chunk_count);
};

// A kFailed reason's first line, and the details on the lines after it ("" without).
struct FailureText {
  std::string reason;
  std::string details;
};
FailureText SplitFailureText(const std::string& text);

std::string EncodeMessage(const Message& message);
// nullopt when the bytes are not a well-formed message of this version.
std::optional<Message> DecodeMessage(const char* data, size_t size);

// Blocking send/receive of one message on a SEQPACKET socket, retrying on EINTR.
// SendMessage returns false when the peer is gone (EPIPE/ECONNRESET; never raises SIGPIPE).
bool SendMessage(int fd, const Message& message);
// Returns nullopt at end of file (peer closed). THROWS Error on a malformed message or I/O error.
std::optional<Message> ReceiveMessage(int fd);

}  // namespace sweep
