#include "driver/mpi_mailbox.h"

#include <chrono>
#include <climits>
#include <thread>

#include "io/clock.h"

namespace sweep::mpi {

Mailbox::Mailbox(const std::vector<int>& peers) : slots_(peers.size()) {
  requests_.resize(peers.size(), MPI_REQUEST_NULL);
  indices_.resize(peers.size());
  statuses_.resize(peers.size());
  for (size_t i = 0; i < peers.size(); ++i) {
    slots_[i].peer = peers[i];
    slots_[i].buffer.resize(kSlotBytes);
    Post(i);
  }
}

void Mailbox::Send(int rank, std::string bytes) {
  if (bytes.empty()) throw Error("mpi: an empty message");
  if (bytes.size() > size_t(INT_MAX))
    throw Error("mpi: a message of " + std::to_string(bytes.size()) + " bytes (over 2 GiB)");
  if (bytes.size() > kSlotBytes) {
    Isend(rank, kTag, Writer(Wire::kLong).Put(uint64_t(bytes.size())).bytes);
    Isend(rank, kBulkTag, std::move(bytes));
  } else {
    Isend(rank, kTag, std::move(bytes));
  }
  Progress();
}

void Mailbox::Poll(std::vector<Letter>* out) {
  Progress();
  for (;;) {
    int done = 0;
    MPI_Testsome(int(requests_.size()), requests_.data(), &done, indices_.data(), statuses_.data());
    if (done == MPI_UNDEFINED || done == 0) return;
    for (int j = 0; j < done; ++j) out->push_back(Take(size_t(indices_[j]), statuses_[j]));
  }
}

std::string Mailbox::Receive(int peer) {
  size_t i = 0;
  while (slots_.at(i).peer != peer) ++i;
  Pacer pacer;
  for (;;) {
    int flag = 0;
    MPI_Status status;
    MPI_Test(&requests_[i], &flag, &status);
    if (flag) return Take(i, status).bytes;
    Progress();
    std::this_thread::sleep_for(std::chrono::duration<double>(pacer.Wait(kNapCap)));
  }
}

void Mailbox::Progress() {
  while (!sends_.empty()) {
    int flag = 0;
    MPI_Test(&sends_.front().request, &flag, MPI_STATUS_IGNORE);
    if (!flag) return;
    sends_.pop_front();
  }
}

void Mailbox::Close(double seconds) {
  const double until = SteadySeconds() + seconds;
  Pacer pacer;
  for (Progress(); !sends_.empty() && SteadySeconds() < until; Progress())
    std::this_thread::sleep_for(std::chrono::duration<double>(pacer.Wait(kNapCap)));
  for (Outgoing& o : sends_) MPI_Request_free(&o.request);
  sends_.clear();
  for (MPI_Request& r : requests_) {
    if (r == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
  }
}

void Mailbox::Post(size_t i) {
  MPI_Irecv(slots_[i].buffer.data(), int(kSlotBytes), MPI_BYTE, slots_[i].peer, kTag,
            MPI_COMM_WORLD, &requests_[i]);
}

void Mailbox::Isend(int rank, int tag, std::string bytes) {
  sends_.emplace_back();
  Outgoing& o = sends_.back();  // a list: it never moves, nor do its bytes
  o.bytes = std::move(bytes);
  MPI_Isend(o.bytes.data(), int(o.bytes.size()), MPI_BYTE, rank, tag, MPI_COMM_WORLD, &o.request);
}

Letter Mailbox::Take(size_t i, const MPI_Status& status) {
  int size = 0;
  MPI_Get_count(&status, MPI_BYTE, &size);
  Letter letter;
  letter.from = slots_[i].peer;
  letter.bytes.assign(slots_[i].buffer.data(), size_t(size));
  Post(i);
  if (letter.bytes.empty()) throw Error("mpi: an empty message from another rank");
  if (TypeOf(letter.bytes) == Wire::kLong) {
    Reader r{letter.bytes};
    const uint64_t n = r.Get<uint64_t>();
    letter.bytes.assign(size_t(n), '\0');
    // MPI keeps one sender's messages of one tag in order: this is the one the header named.
    MPI_Recv(letter.bytes.data(), int(n), MPI_BYTE, letter.from, kBulkTag, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
  }
  return letter;
}

}  // namespace sweep::mpi
