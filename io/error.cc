#include "io/error.h"

namespace sweep {
namespace {

std::string JoinLines(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const Diagnostic& d : diagnostics) {
    if (!text.empty()) text += '\n';
    text += d.ToString();
  }
  return text;
}

}  // namespace

std::string Diagnostic::ToString() const {
  std::string text = where.file;
  if (where.line > 0) {
    text += ':' + std::to_string(where.line);
    if (where.column > 0) text += ':' + std::to_string(where.column);
  }
  if (!key_path.empty()) text += (text.empty() ? "" : ": ") + key_path;
  text += (text.empty() ? "" : ": ") + message;
  return text;
}

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : Error(JoinLines(diagnostics), ExitCode::kUsage), diagnostics_(std::move(diagnostics)) {}

}  // namespace sweep
