#include "driver/point_values.h"

#include <fmt/format.h>

#include <algorithm>
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

std::vector<std::pair<std::string, std::string>> ParamsInOrder(
    const std::vector<std::string>& names, const std::string& params_json) {
  std::vector<std::pair<std::string, std::string>> pairs;
  const nlohmann::json params = nlohmann::json::parse(params_json, nullptr, false);
  if (!params.is_object()) return pairs;
  std::vector<std::string> order = names;
  for (const auto& item : params.items())
    if (std::find(order.begin(), order.end(), item.key()) == order.end())
      order.push_back(item.key());
  for (const std::string& name : order) {
    const auto v = params.find(name);
    if (v == params.end()) continue;
    std::string text;
    if (v->is_string()) {
      text = v->get<std::string>();
    } else if (v->is_number_integer()) {
      text = v->dump();
    } else if (v->is_number_float()) {
      text = ValueText(sweep_value{SWEEP_VALUE_NUMBER, v->get<double>(), 0, nullptr});
    } else {
      text = v->dump();
    }
    pairs.emplace_back(name, std::move(text));
  }
  return pairs;
}

std::string ParamsText(const std::vector<std::string>& names, const std::string& params_json) {
  std::string text;
  for (const auto& [name, value] : ParamsInOrder(names, params_json))
    text += (text.empty() ? "" : ", ") + name + "=" + value;
  return text;
}

}  // namespace sweep
