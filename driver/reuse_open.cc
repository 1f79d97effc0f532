// ReusePlan::Open (driver/reuse.h): the OLD outputs opened and checked. Apart from reuse.cc, which
// spawned workers link, since this part reads HDF5 files and YAML configs.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "driver/chunk_ledger.h"
#include "driver/command_binding.h"
#include "driver/fingerprint.h"
#include "driver/reuse.h"
#include "io/config_json.h"
#include "io/error.h"

namespace sweep {
namespace {

std::string Absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

// What a kernel's keys in the config say of what it computes: everything but where things are
// (locations, the plugin's and templates' paths, whose bytes the fingerprint compares) and what
// does not change results (the work folder). Options are compared by the fingerprint, with
// their defaults. Paths naming environment variables are compared as written: each sweep expanded
// them in its own environment, and the fingerprint compares the files' bytes.
nlohmann::json KernelIdentity(const Config& config) {
  Config as_written = config;
  UnexpandPaths(&as_written, kKernelPaths);
  nlohmann::json kernel = ConfigToJson(as_written).at("kernel");
  for (const char* key : {"where", "option_where", "command_where", "workdir", "plugin", "options"})
    kernel.erase(key);
  if (kernel.contains("command_files"))
    for (nlohmann::json& file : kernel["command_files"]) {
      file.erase("template_path");
      file.erase("where");
    }
  for (const char* list : {"command_outputs", "command_env"})
    if (kernel.contains(list))
      for (nlohmann::json& entry : kernel[list]) entry.erase("where");
  return kernel;
}

// Each way OLD's results differ from what this run computes, one line each.
std::vector<std::string> Differences(const Config& old_config, const Config& config,
                                     const std::string& old_fingerprint,
                                     const std::string& fingerprint) {
  std::vector<std::string> differences;
  if (old_config.seed != config.seed)
    differences.push_back(fmt::format("seed: {} there, {} here", old_config.seed, config.seed));
  const nlohmann::json before = KernelIdentity(old_config), now = KernelIdentity(config);
  for (auto it = now.begin(); it != now.end(); ++it) {
    const nlohmann::json was = before.value(it.key(), nlohmann::json());
    if (was != it.value())
      differences.push_back(
          fmt::format("kernel.{}: {} there, {} here", it.key(), was.dump(), it.value().dump()));
  }
  for (auto it = before.begin(); it != before.end(); ++it)
    if (!now.contains(it.key()))
      differences.push_back(fmt::format("kernel.{}: {} there, none here", it.key(), it->dump()));
  for (const std::string& change :
       FingerprintChanges(nlohmann::json::parse(old_fingerprint, nullptr, false),
                          nlohmann::json::parse(fingerprint), config))
    differences.push_back(change);
  return differences;
}

bool UsesPoint(const CommandTemplate& pieces) {
  return std::any_of(pieces.begin(), pieces.end(), [](const CommandPiece& piece) {
    return piece.kind == CommandPiece::Kind::kPoint;
  });
}

}  // namespace

ReusePlan ReusePlan::Open(const std::vector<std::string>& paths, const Config& config,
                          const Space& space, const std::string& fingerprint,
                          const std::string& output_path) {
  ReusePlan plan;
  if (!config.kernel.command.empty() && !paths.empty()) {
    const CommandSpec spec = ReadCommandSpec(config, space);
    std::string where;
    for (const CommandTemplate& arg : spec.args)
      if (UsesPoint(arg)) where = "kernel.command";
    for (const CommandFile& file : spec.files)
      if (where.empty() && UsesPoint(file.text)) where = "kernel.files." + file.name;
    if (!where.empty()) {
      throw Error("--reuse: " + where +
                      " passes {point}, the point's index, to the program; a grown sweep "
                      "numbers its points otherwise, so the results of its points would not be "
                      "this sweep's (pass what the program computes from: the parameters and "
                      "{seed})",
                  ExitCode::kUsage);
    }
  }
  struct stat output {};
  const bool output_exists = stat(output_path.c_str(), &output) == 0;
  std::vector<std::pair<std::pair<dev_t, ino_t>, std::string>> seen;
  for (const std::string& given : paths) {
    const std::string path = Absolute(given);
    const std::string named = "--reuse " + given;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) {
      const int error = errno;
      if (fd >= 0) close(fd);
      throw Error(named + ": " + std::strerror(error), ExitCode::kUsage);
    }
    struct Closer {  // the descriptor is closed on a throw

      int fd;
      bool keep = false;
      ~Closer() {
        if (!keep) close(fd);
      }
    } closer{fd};
    if (!S_ISREG(st.st_mode)) throw Error(named + ": not a file", ExitCode::kUsage);
    if (output_exists && st.st_dev == output.st_dev && st.st_ino == output.st_ino) {
      throw Error(named + ": is this run's own output (" + output_path +
                      "); name an earlier output to copy points from",
                  ExitCode::kUsage);
    }
    const std::pair<dev_t, ino_t> id{st.st_dev, st.st_ino};
    auto twice =
        std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == id; });
    if (twice != seen.end()) {
      std::fprintf(stderr, "sweep: warning: %s: the same file as --reuse %s; read once\n",
                   named.c_str(), twice->second.c_str());
      continue;
    }
    seen.emplace_back(id, given);

    std::unique_ptr<OutputFile> file;
    try {
      file = std::make_unique<OutputFile>(OutputFile::Open(path, OutputFile::Access::kRead));
    } catch (const Error& e) {
      throw Error("--reuse " + std::string(e.what()), e.code());
    }
    struct stat now {};
    if (stat(path.c_str(), &now) != 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino)
      throw Error(named + ": was replaced while being opened; try again", ExitCode::kUsage);
    const OutputLayout& layout = file->layout();
    if (SeedRuleOf(layout.fingerprint) != SeedRule::kParameterValues) {
      throw Error(named +
                      ": was made by an earlier sweep, which seeded each point by its index, not "
                      "by its parameter values, so its points are not this sweep's points (run "
                      "its config again with this sweep to reuse it)",
                  ExitCode::kUsage);
    }
    Config old_config;
    try {
      old_config = ParseConfig(layout.config_text, layout.config_file);
    } catch (const ConfigError& e) {
      throw Error(named + ": its stored config no longer reads: " + e.what(), ExitCode::kUsage);
    }

    // Which fingerprint each done chunk was recorded under: its journal's latest `started`
    // record's before it, else the one the file was made with.
    std::vector<std::string> fingerprints = {layout.fingerprint};
    std::vector<size_t> journal_fingerprint;
    std::vector<uint32_t> chunk_fingerprint(size_t(layout.chunks), 0);
    const ChunkLedger ledger =
        ChunkLedger::Load(*file, [&](const JournalRecord& r, size_t journal) {
          if (journal_fingerprint.size() <= journal) journal_fingerprint.resize(journal + 1, 0);
          if (r.type == "started" && !r.fingerprint_json.empty()) {
            auto at = std::find(fingerprints.begin(), fingerprints.end(), r.fingerprint_json);
            journal_fingerprint[journal] = size_t(at - fingerprints.begin());
            if (at == fingerprints.end()) fingerprints.push_back(r.fingerprint_json);
          } else if (r.type == "done" && r.chunk < layout.chunks) {
            chunk_fingerprint[size_t(r.chunk)] = uint32_t(journal_fingerprint[journal]);
          }
        });
    const std::string& latest =
        ledger.last_fingerprint().empty() ? layout.fingerprint : ledger.last_fingerprint();
    const std::vector<std::string> differences =
        Differences(old_config, config, latest, fingerprint);
    if (!differences.empty()) {
      std::string list;
      for (const std::string& d : differences) list += "\n  " + d;
      throw Error(named +
                      ": its points were computed with another kernel, options, inputs, "
                      "outputs or seed than this sweep's, so they are not this sweep's results:" +
                      list,
                  ExitCode::kUsage);
    }
    std::vector<bool> usable(fingerprints.size());
    for (size_t i = 0; i < fingerprints.size(); ++i)
      usable[i] = Differences(old_config, config, fingerprints[i], fingerprint).empty();

    ReuseSource source;
    source.path = path;
    source.read_as = fmt::format("/proc/{}/fd/{}", getpid(), fd);
    source.layout = layout;
    try {
      source.match = PointMatch(space, Space(old_config, SeedRule::kParameterValues));
    } catch (const ConfigError& e) {
      throw Error(named + ": its stored config no longer reads: " + e.what(), ExitCode::kUsage);
    }
    source.done.assign(size_t(layout.chunks), 0);
    source.checksums.assign(size_t(layout.chunks), 0);
    for (uint64_t c = 0; c < layout.chunks; ++c) {
      if (ledger.status(c) != ChunkStatus::kDone) continue;
      if (!usable[chunk_fingerprint[size_t(c)]]) {
        ++source.stale_chunks;
        continue;
      }
      source.done[size_t(c)] = 1;
      source.checksums[size_t(c)] = ledger.checksum(c);
      ++source.done_chunks;
    }
    if (source.stale_chunks > 0) {
      std::fprintf(stderr,
                   "sweep: warning: %s: %llu of its done chunks were computed before a `resume "
                   "--force` changed its kernel, options or inputs; their points are computed "
                   "again\n",
                   named.c_str(), (unsigned long long)source.stale_chunks);
    }
    if (source.match.none()) {
      std::fprintf(stderr, "sweep: warning: %s: holds no point of this sweep: %s\n", named.c_str(),
                   source.match.why_none().c_str());
    }
    closer.keep = true;
    plan.files_.push_back(std::move(file));
    // The descriptor workers read through, closed with the plan.
    plan.descriptors_.push_back(fd);
    plan.sources_.push_back(std::move(source));
  }
  return plan;
}

}  // namespace sweep
