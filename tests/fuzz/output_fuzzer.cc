// A libFuzzer target over what sweep reads back from an output file that was damaged on disk or
// edited by hand: a real output (io/output_file.h), made once, whose attributes and /chunks the
// input rewrites before every reader of an output runs on it: ReadOutputLayout, the chunk table
// and provenance, `sweep status` (text and JSON), `sweep export` (points and --chunks) and
// `sweep report`.
//
// The bytes are not an HDF5 file: fuzzing HDF5's own parser is HDF5's business, and a damaged
// superblock already fails in H5Fopen. They are edits of a file HDF5 can open. Byte 0 picks the
// base output; then each 10 bytes are one edit: [what] [index] [value, 8 bytes little-endian].
// `what` names a root attribute (rewritten through HDF5: points, chunks, chunk_size, seed,
// kernel_abi, sweep_dims, outputs, config, kernel, format) or a dataset whose bytes are rewritten
// in place at element `index` (the /chunks columns and string tables, an output's rows, a
// coordinate): what a bad disk, a careless h5py session or a foreign tool does.
//
// The contract under test: whatever the edits, each reader either succeeds or throws
// sweep::Error (a damaged file is "damaged sweep output file: ..."). Any other exception, a
// crash (the SIGFPE of chunk_size 0, the segfault of export --chunks with a wrong chunk_size), a
// sanitizer report, a leak or a timeout is a finding. Built only with -DSWEEP_FUZZ=ON (clang);
// scripts/fuzz builds and runs it.
#include <fcntl.h>
#include <hdf5.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "driver/export.h"
#include "driver/fingerprint.h"
#include "driver/plan.h"
#include "driver/report.h"
#include "driver/run_steps.h"
#include "driver/space.h"
#include "driver/status.h"
#include "io/config.h"
#include "io/error.h"
#include "io/hdf5.h"
#include "io/output_file.h"

namespace {

using sweep::OutputFile;
using sweep::RawRegion;

// A dataset whose bytes an edit may rewrite: where it is and the size of one element.
struct Target {
  RawRegion region;
  uint64_t element = 1;
};

// One base output: its bytes as made, and the datasets edits reach, by `what` - kAttributes.
struct Base {
  std::string bytes;
  std::vector<Target> targets;
};

constexpr int kAttributes = 10;  // `what` values below this name an attribute

// Two small sweeps: a scalar output over a grid, chunks of 4 (the last one short); a shaped
// output over a list, chunks of 1.
const char* const kConfigs[] = {
    "name: a\nkernel: {name: square}\nparameters: {x: {linspace: [0, 1, 37]}}\n",
    "name: b\nkernel: {name: fill, options: {bytes: 24}}\nparameters: {x: {values: [1.5, 2.5, 4]}}"
    "\n"};
const uint64_t kChunkSizes[] = {4, 1};

const char* const kNames[] = {"x", "y", "x_0", "row", "chunks", "sample", "", "a/b", "replicate"};

std::string Directory() {
  // Never destroyed: the exit handler that removes it runs after static destructors would.
  static const std::string* const dir = [] {
    // tmpfs where there is one: every input rewrites the file.
    char pattern[] = "/dev/shm/sweep-output-fuzz-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      std::strcpy(pattern, "/tmp/sweep-output-fuzz-XXXXXX");
      if (mkdtemp(pattern) == nullptr) abort();
    }
    std::atexit([] { std::filesystem::remove_all(Directory()); });
    return new std::string(pattern);
  }();
  return *dir;
}

std::string OutputPath() { return Directory() + "/out.h5"; }

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

RawRegion RegionOfDataset(const std::string& path, const std::string& name) {
  sweep::hdf5::Handle file = sweep::hdf5::OpenFileReadOnly(path);
  sweep::hdf5::Handle dataset = sweep::hdf5::OpenDataset(file.id(), name);
  const std::optional<uint64_t> offset = sweep::hdf5::DatasetOffset(dataset.id());
  return {offset.value_or(0), sweep::hdf5::StorageSize(dataset.id())};
}

// Makes base `which` as a run leaves it: some chunks done with their rows, one failed for good
// with a reason, hosts recorded.
Base MakeBase(int which) {
  sweep::hdf5::ErrorSilencer quiet;
  const std::string path = Directory() + "/base-" + std::to_string(which) + ".h5";
  const sweep::Config config = sweep::ParseConfig(kConfigs[which], Directory() + "/c.yaml", {});
  const sweep::Space space(config);
  const sweep::KernelBinding binding = sweep::BindKernel(config, space);
  const sweep::Plan plan(space.points(), kChunkSizes[which]);
  const std::string fingerprint = sweep::Fingerprint(binding, config, {}).dump();
  sweep::CreateOutputFile(path, sweep::LayoutSpecFor(config, space, binding, plan, fingerprint));
  {
    OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
    for (uint64_t c = 0; c < plan.chunks(); c += 2) {
      const sweep::Chunk chunk = plan.chunk(c);
      std::string rows(file.Rows(0, chunk.first, chunk.count).bytes, '\x3f');
      file.WriteRows(0, chunk.first, chunk.count, rows.data());
      sweep::ChunkRow row;
      row.status = sweep::ChunkStatus::kDone;
      row.attempts = 1;
      row.seconds = 0.25;
      row.checksum = 7;
      row.host = file.HostRow(c % 4 == 0 ? "node-a" : "node-b");
      row.worker = int32_t(c % 3);
      row.start_time = 1.8e9;
      row.max_rss = 4 << 20;
      file.WriteChunkRow(c, row);
    }
    if (plan.chunks() > 1) {
      sweep::ChunkRow failed;
      failed.status = sweep::ChunkStatus::kFailed;
      failed.attempts = 3;
      failed.host = file.HostRow("node-c");
      file.WriteChunkRow(1, failed);
      file.WriteChunkFailure(1, file.FailureReasonRow("point 5: exit code 7"));
    }
  }
  Base base;
  const OutputFile file = OutputFile::Open(path, OutputFile::Access::kRead);
  const sweep::OutputLayout& layout = file.layout();
  base.targets = {{layout.chunk_status, 1},
                  {layout.chunk_attempts, 4},
                  {layout.chunk_seconds, 8},
                  {layout.chunk_checksum, 8},
                  {layout.chunk_host, 2},
                  {layout.chunk_worker, 4},
                  {layout.chunk_start_time, 8},
                  {layout.chunk_max_rss, 8},
                  {layout.chunk_failure, 2},
                  {RegionOfDataset(path, "chunks/first"), 8},
                  {RegionOfDataset(path, "chunks/count"), 8},
                  {layout.host_names.region, 1},
                  {layout.failure_reasons.region, 1},
                  {layout.results[0].region, 1},
                  {layout.variables.empty() ? RawRegion{} : layout.variables[0].region, 8}};
  base.bytes = ReadWhole(path);
  unlink(path.c_str());
  return base;
}

const Base& BaseOf(int which) {
  static const Base bases[] = {MakeBase(0), MakeBase(1)};
  return bases[which];
}

struct Edit {
  int what = 0;
  uint8_t index = 0;
  uint64_t value = 0;
};

std::vector<std::string> Names(uint64_t value) {
  std::vector<std::string> names;
  for (uint64_t n = value % 4; n > 0; --n, value /= 16) names.push_back(kNames[(value >> 2) % 9]);
  return names;
}

// Rewrites root attribute `edit.what` as the edit says (deleting it first: an attribute's type
// and shape are the edit's, as another tool would write it).
void EditAttribute(hid_t root, const Edit& edit) {
  namespace hdf5 = sweep::hdf5;
  static const char* const kAttributeNames[kAttributes] = {
      "points",     "chunks",  "chunk_size", "seed",   "kernel_abi",
      "sweep_dims", "outputs", "config",     "kernel", "format"};
  const char* name = kAttributeNames[edit.what];
  if (hdf5::AttributeExists(root, name)) H5Adelete(root, name);
  switch (edit.what) {
    case 0:
    case 1:
    case 2:
    case 3:
      // A small value or one near 2^64 (what the issue found accepted).
      hdf5::WriteAttribute(root, name,
                           edit.index % 2 ? ~uint64_t{0} - edit.value % 64 : edit.value % 1000);
      break;
    case 4:
      hdf5::WriteAttribute(root, name, uint32_t(edit.value));
      break;
    case 5:
    case 6:
      hdf5::WriteAttribute(root, name, Names(edit.value));
      break;
    case 7:
      hdf5::WriteAttribute(
          root, name,
          std::string(kConfigs[edit.index % 2]) +
              (edit.value % 3 == 0 ? ""
               : edit.value % 3 == 1
                   ? "parameters: {x: {range: [0, " + std::to_string(edit.value % 100) + "]}}\n"
                   : "execution: {chunk_size: " + std::to_string(edit.value % 50) + "}\n"));
      break;
    case 8:
      hdf5::WriteAttribute(root, name, std::string(edit.value % 2 ? "fill" : "square"));
      break;
    case 9:
      hdf5::WriteAttribute(root, name, std::string(edit.value % 2 ? "sweep/1" : "sweep/3"));
      break;
  }
}

// Writes `value`'s low bytes over element `index` of the target (its byte `index` for a table or
// an output's rows).
void EditBytes(int fd, const Target& target, const Edit& edit) {
  if (target.region.bytes < target.element) return;
  const uint64_t elements = target.region.bytes / target.element;
  const uint64_t at = target.region.offset + (edit.index % elements) * target.element;
  const size_t size =
      size_t(std::min<uint64_t>(target.element == 1 ? 1 + edit.index % 8 : target.element,
                                target.region.offset + target.region.bytes - at));
  if (pwrite(fd, &edit.value, size, off_t(at)) != ssize_t(size)) abort();
}

void Exercise(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const Base& base = BaseOf(data[0] % 2);
  std::vector<Edit> edits;
  for (size_t at = 1; at + 10 <= size && edits.size() < 16; at += 10) {
    Edit edit;
    edit.what = data[at] % (kAttributes + int(base.targets.size()));
    edit.index = data[at + 1];
    std::memcpy(&edit.value, data + at + 2, 8);
    edits.push_back(edit);
  }
  const std::string path = OutputPath();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(base.bytes.data(), std::streamsize(base.bytes.size()));
    if (!out) abort();
  }
  {
    sweep::hdf5::ErrorSilencer quiet;
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) abort();
    for (const Edit& edit : edits)
      if (edit.what < kAttributes) EditAttribute(file, edit);
    if (H5Fclose(file) < 0) abort();
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) abort();
  for (const Edit& edit : edits)
    if (edit.what >= kAttributes)
      EditBytes(fd, base.targets[size_t(edit.what - kAttributes)], edit);
  close(fd);

  // Every reader, each on its own: one refusing must not hide another crashing.
  auto quietly = [](auto read) {
    try {
      read();
    } catch (const sweep::Error&) {
      // The documented way to refuse a damaged output.
    }
  };
  quietly([&] {
    const OutputFile file = OutputFile::Open(path, OutputFile::Access::kRead);
    (void)file.ReadChunkTable();
    (void)file.ReadChunkProvenance();
  });
  quietly([&] {
    const sweep::StatusReport report = sweep::ReadStatus(path);
    (void)sweep::StatusText(report);
    (void)sweep::StatusJson(report).dump();
  });
  for (bool chunks : {false, true}) {
    quietly([&] {
      sweep::ExportRequest request;
      request.output_path = path;
      request.destination = Directory() + "/export.csv";
      request.chunks = chunks;
      sweep::ExportCommand(request);
    });
  }
  quietly([&] { (void)sweep::ReportHtml(path, 1.8e9 + 60); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Exercise(data, size);
  return 0;
}
