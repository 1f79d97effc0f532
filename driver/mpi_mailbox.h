// The MPI messages between rank 0 and the other ranks (driver/mpi_run.h), apart from what they
// say: a message is bytes whose first byte is its type (Wire), the rest written by Writer and read
// back by Reader in the same order; Mailbox sends and receives them without ever blocking on a
// peer, one receive posted per peer; Pacer spaces the looks for messages when there is nothing to
// do. A message longer than a receive slot (kSlotBytes) travels as a kLong header naming its
// length, then its bytes on kBulkTag.
#pragma once

// The C API only: the deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <list>
#include <string>
#include <vector>

#include "io/error.h"

namespace sweep::mpi {

inline constexpr int kTag = 7;      // every message, or the header of a long one
inline constexpr int kBulkTag = 8;  // a long message's bytes, right after its header
// The receive posted for each peer: rank 0 holds one per rank, so 8 KiB keeps 10^4 ranks' slots
// at 80 MiB. Longer messages (rows, mostly) take a second receive, posted as their header says.
inline constexpr size_t kSlotBytes = 8 << 10;

// What travels between rank 0 and the other ranks (the first byte of every message).
enum class Wire : uint8_t {
  kSetup = 1,    // 0 -> k: JSON {"code": 0, the sweep's description, layout, aggregate} or {"code"}
  kHello = 2,    // k -> 0: JSON {"workers", "host", "pid", "input_xxh3"} or {"error": "..."}
  kStart = 3,    // 0 -> k: worker
  kSend = 4,     // 0 -> k: worker, protocol message bytes; an assignment for a worker that has
                 // one is held until that one ends
  kKill = 5,     // 0 -> k: worker
  kFinish = 6,   // 0 -> k: exit code; the rank stops its workers and exits with it
  kBatch = 7,    // k -> 0: events, places, rows (EncodeBatch)
  kReclaim = 8,  // 0 -> k: worker; its held assignment back (kReturned) if it holds one
  kPing = 9,     // 0 -> k: uint32 its number; answer now: a batch (maybe empty), then kPong
  kWrapUp = 10,  // 0 -> k: the run ended: send what is left, then kGoodbye
  kGoodbye = 11,  // k -> 0: float64 CPU seconds of this rank's process; its last message
  kLong = 12,     // header of a message longer than a slot: uint64 its size; it follows on
                  // kBulkTag
  kPong = 13,     // k -> 0: uint32 the number of the ping it answers
};

// Appends fixed-size values and length-prefixed strings; Reader takes them back in order.
struct Writer {
  std::string bytes;
  explicit Writer(Wire type) { bytes.push_back(char(type)); }
  template <typename T>
  Writer& Put(const T& value) {
    bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
    return *this;
  }
  Writer& PutString(const std::string& s) {
    Put(uint64_t(s.size()));
    bytes += s;
    return *this;
  }
};

struct Reader {
  const std::string& bytes;
  size_t at = 1;
  template <typename T>
  T Get() {
    if (at + sizeof(T) > bytes.size()) throw Error("mpi: a message from another rank is cut short");
    T value;
    std::memcpy(&value, bytes.data() + at, sizeof value);
    at += sizeof value;
    return value;
  }
  std::string GetString() {
    const uint64_t n = Get<uint64_t>();
    if (n > bytes.size() - at) throw Error("mpi: a message from another rank is cut short");
    std::string s = bytes.substr(at, n);
    at += n;
    return s;
  }
};

inline Wire TypeOf(const std::string& bytes) { return Wire(uint8_t(bytes[0])); }

// Between looks for messages: none right after traffic, then 20 us, doubling up to a cap.
class Pacer {
 public:
  void Active() { nap_ = 0; }
  double Wait(double cap) {
    const double wait = std::min(nap_, cap);
    nap_ = nap_ == 0 ? 20e-6 : std::min(nap_ * 2, cap);
    return wait;
  }

 private:
  double nap_ = 0;
};
inline constexpr double kNapCap = 1e-3;
inline constexpr double kUrgentNapCap = 1e-4;

// One message that arrived, with its sender.
struct Letter {
  int from = 0;
  std::string bytes;
};

// This process's MPI messages. A receive stays posted for each peer it hears from, into a slot
// of kSlotBytes (each arrival is tested, never probed for: MPI_Testsome over them all); sends
// are non-blocking, their bytes kept until MPI is done with them, so no rank ever blocks on
// another's attention.
class Mailbox {
 public:
  explicit Mailbox(const std::vector<int>& peers);
  ~Mailbox() { Close(0); }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Sends `bytes` (a Writer's) to `rank`. THROWS: Error for an empty message or one over 2 GiB.
  void Send(int rank, std::string bytes);

  // Appends every message that has arrived, each peer's in the order sent. Never waits, but for
  // a long message's bytes, which are on their way once its header is here.
  void Poll(std::vector<Letter>* out);

  // Waits for the next message from `peer` (REQUIRES: one of the peers), looking as Pacer says.
  std::string Receive(int peer);

  // Completes the sends MPI is done with.
  void Progress();

  // Waits up to `seconds` for the sends to complete (a peer that died never takes them), then
  // cancels the posted receives. Nothing is sent or received after.
  void Close(double seconds);

 private:
  struct Slot {
    int peer = 0;
    std::vector<char> buffer;
  };
  // A send in flight: its bytes stay where MPI was told they are.
  struct Outgoing {
    std::string bytes;
    MPI_Request request = MPI_REQUEST_NULL;
  };

  void Post(size_t i);
  void Isend(int rank, int tag, std::string bytes);
  // The message that completed slot i, and the slot posted again.
  Letter Take(size_t i, const MPI_Status& status);

  std::vector<Slot> slots_;
  std::vector<MPI_Request> requests_;
  std::vector<int> indices_;
  std::vector<MPI_Status> statuses_;
  std::list<Outgoing> sends_;  // a list: an element never moves, nor do its bytes
};

}  // namespace sweep::mpi
