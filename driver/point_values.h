// A point's parameter values as people and JSON read them: for failure reports, the journal and
// the fingerprint.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "driver/space.h"
#include "kernels/dtype.h"  // ValueText
#include "kernels/kernel.h"

namespace sweep {

// 2.5, 10, "abc"; a non-finite number as its text ("nan"), which JSON cannot hold.
nlohmann::json ValueJson(const sweep_value& v);
// "rho=2.5, sigma=10" into *text and {"rho":2.5,"sigma":10} into *json for `point`. A string
// value over kParameterTextBytes is cut there (at a character boundary) and ends in "... (N
// bytes)", in both: a 200 KB argument neither floods the terminal nor makes the journal's failed
// record drop every parameter (status then showed "point 0 ()").
inline constexpr size_t kParameterTextBytes = 200;
void DescribePoint(const Space& space, uint64_t point, std::string* text, std::string* json);

// The (name, value) pairs of a point's parameters as the journal keeps them (its "params" JSON
// object), in the config's order `names` (then any others the object holds), each value as
// ValueText writes it: what `run`, `status` and `report` all print, `C=1e-12, R=1000` and not
// `R=1000.0, C=1e-12`. Empty for an empty or malformed object.
std::vector<std::pair<std::string, std::string>> ParamsInOrder(
    const std::vector<std::string>& names, const std::string& params_json);
// Those pairs as "name=value, name=value".
std::string ParamsText(const std::vector<std::string>& names, const std::string& params_json);

}  // namespace sweep
