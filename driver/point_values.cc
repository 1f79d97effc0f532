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

namespace {

// `text` cut to kParameterTextBytes at a UTF-8 character boundary, saying how long it was.
std::string Shortened(const std::string& text) {
  if (text.size() <= kParameterTextBytes) return text;
  size_t cut = kParameterTextBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + fmt::format("... ({} bytes)", text.size());
}

}  // namespace

void DescribePoint(const Space& space, uint64_t point, std::string* text, std::string* json) {
  std::vector<sweep_value> values(space.parameter_names().size());
  space.Resolve(point, values.data());
  nlohmann::json j = nlohmann::json::object();
  text->clear();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!text->empty()) *text += ", ";
    *text += space.parameter_names()[i] + "=" + Shortened(ValueText(values[i]));
    const nlohmann::json value = ValueJson(values[i]);
    j[space.parameter_names()[i]] =
        value.is_string() ? nlohmann::json(Shortened(value.get<std::string>())) : value;
  }
  *json = j.dump();
}

}  // namespace sweep
