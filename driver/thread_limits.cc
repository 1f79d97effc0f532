#include "driver/thread_limits.h"

#include <cstring>

namespace sweep {
namespace {

// The value `name` has in `environment`, or nullptr.
const char* Lookup(char** environment, const char* name) {
  const size_t length = std::strlen(name);
  for (char** e = environment; e && *e; ++e) {
    if (std::strncmp(*e, name, length) == 0 && (*e)[length] == '=') return *e + length + 1;
  }
  return nullptr;
}

}  // namespace

std::vector<ThreadVariable> WorkerThreadVariables(int threads, char** environment) {
  std::vector<ThreadVariable> variables;
  for (const char* name : kThreadVariables) {
    const char* set = Lookup(environment, name);
    variables.push_back({name, set ? set : std::to_string(threads), set != nullptr});
  }
  return variables;
}

std::vector<std::string> ThreadSettings(int threads, char** environment) {
  std::vector<std::string> settings;
  for (const ThreadVariable& v : WorkerThreadVariables(threads, environment)) {
    if (!v.from_environment) settings.push_back(v.name + "=" + v.value);
  }
  return settings;
}

std::string DescribeThreads(int threads, char** environment) {
  std::string ours, theirs;
  for (const ThreadVariable& v : WorkerThreadVariables(threads, environment)) {
    if (v.from_environment) {
      theirs += (theirs.empty() ? "" : ", ") + v.name + "=" + v.value;
    } else {
      ours += (ours.empty() ? "" : ", ") + v.name;
    }
  }
  std::string text = std::to_string(threads);
  if (!ours.empty()) text += " (" + ours + ")";
  if (!theirs.empty()) text += "; " + theirs + " from the environment";
  return text;
}

}  // namespace sweep
