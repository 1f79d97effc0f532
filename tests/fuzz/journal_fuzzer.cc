// A libFuzzer target over what sweep reads back from a journal it did not write whole: a file
// cut by a kill, damaged on disk, or written by hand (io/journal.h). JournalReader must skip what
// is damaged and resynchronise, whatever the bytes; the text of one JSON record goes through
// DecodeJournalRecord.
//
// The contract under test: whatever the bytes, reading either succeeds (records, damaged stretches
// and a truncated tail counted) or throws sweep::Error (not a journal, another version). Any other
// exception, a crash, a sanitizer report, a leak or a timeout is a finding. Built only with
// -DSWEEP_FUZZ=ON (clang); scripts/fuzz builds and runs it.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "io/error.h"
#include "io/journal.h"

namespace {

void Exercise(const uint8_t* data, size_t size) {
  // The reader reads by path: a memfd gives the bytes one without touching the disk.
  const int fd = memfd_create("journal-fuzz", MFD_CLOEXEC);
  if (fd < 0) return;
  struct Close {
    int fd;
    ~Close() { close(fd); }
  } closer{fd};
  if (size > 0 && write(fd, data, size) != ssize_t(size)) return;
  // A small buffer, so records straddle refills.
  sweep::JournalReader reader("/proc/self/fd/" + std::to_string(fd), 97);
  sweep::JournalRecord record;
  while (reader.Next(&record)) {
  }
  (void)reader.truncated();
  (void)reader.damaged_records();
  (void)sweep::DecodeJournalRecord(std::string(reinterpret_cast<const char*>(data), size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    Exercise(data, size);
  } catch (const sweep::Error&) {
    // The documented way to refuse a file that is not a journal this sweep reads.
  }
  return 0;
}
