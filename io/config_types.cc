// The functions of io/config.h's types, apart from reading YAML (config.cc): all that a process
// given its config as JSON (io/config_json.h) calls. They live here, not in config.cc, so that such
// a process links no YAML parser: the spawned worker (sweep-worker) does not load yaml-cpp at all.
#include "io/config.h"

#include <fmt/format.h>

namespace sweep {

Value Value::Number(double v) {
  Value value;
  value.type = Type::kNumber;
  value.number = v;
  return value;
}

Value Value::Integer(int64_t v) {
  Value value;
  value.type = Type::kInteger;
  value.integer = v;
  value.number = double(v);
  return value;
}

Value Value::String(std::string v) {
  Value value;
  value.type = Type::kString;
  value.string = std::move(v);
  return value;
}

bool Value::operator==(const Value& other) const {
  if (type != other.type) return false;
  switch (type) {
    case Type::kNumber:
      return number == other.number;
    case Type::kInteger:
      return integer == other.integer;
    case Type::kString:
      return string == other.string;
  }
  return false;
}

std::string Value::ToString() const {
  switch (type) {
    case Type::kNumber:
      return fmt::format("{}", number);  // shortest text that reads back as the same double
    case Type::kInteger:
      return std::to_string(integer);
    case Type::kString:
      return string;
  }
  return "";
}

const AxisSpec* Config::FindParameter(const std::string& parameter) const {
  for (const AxisSpec& axis : parameters)
    if (axis.name == parameter) return &axis;
  return nullptr;
}

uint64_t AxisLength(const AxisSpec& axis) {
  switch (axis.kind) {
    case AxisSpec::Kind::kLinspace:
    case AxisSpec::Kind::kLogspace:
      return axis.count > 0 ? uint64_t(axis.count) : 0;
    case AxisSpec::Kind::kValues:
      return axis.values.size();
    case AxisSpec::Kind::kRange: {
      // Unsigned arithmetic: stop - start may not fit int64, but fits uint64.
      const int64_t start = axis.range_start, stop = axis.range_stop, step = axis.range_step;
      uint64_t span = 0, stride = 0;
      if (step > 0 && stop > start) {
        span = uint64_t(stop) - uint64_t(start);
        stride = uint64_t(step);
      } else if (step < 0 && stop < start) {
        span = uint64_t(start) - uint64_t(stop);
        stride = uint64_t{0} - uint64_t(step);
      } else {
        return 0;
      }
      return span / stride + (span % stride != 0);
    }
    case AxisSpec::Kind::kConstant:
      return 1;
    case AxisSpec::Kind::kUniform:
    case AxisSpec::Kind::kLogUniform:
      break;
  }
  return 0;
}

}  // namespace sweep
