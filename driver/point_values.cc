#include "driver/point_values.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

namespace sweep {

nlohmann::json ValueJson(const sweep_value& v) {
  switch (v.type) {
    case SWEEP_VALUE_INTEGER:
      return v.integer;
    case SWEEP_VALUE_STRING:
      return v.string ? v.string : "";
    default:
      return std::isfinite(v.number) ? nlohmann::json(v.number) : nlohmann::json(ValueText(v));
  }
}

void DescribePoint(const Space& space, uint64_t point, std::string* text, std::string* json) {
  std::vector<sweep_value> values(space.parameter_names().size());
  space.Resolve(point, values.data());
  nlohmann::json j = nlohmann::json::object();
  text->clear();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!text->empty()) *text += ", ";
    *text += space.parameter_names()[i] + "=" + ValueText(values[i]);
    j[space.parameter_names()[i]] = ValueJson(values[i]);
  }
  *json = j.dump();
}

}  // namespace sweep
