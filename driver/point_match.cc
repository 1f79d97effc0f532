#include "driver/point_match.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "kernels/dtype.h"

namespace sweep {
namespace {

bool SameValue(const sweep_value& a, const sweep_value& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case SWEEP_VALUE_INTEGER:
      return a.integer == b.integer;
    case SWEEP_VALUE_STRING:
      return std::strcmp(a.string ? a.string : "", b.string ? b.string : "") == 0;
    default:
      return std::memcmp(&a.number, &b.number, sizeof a.number) == 0;  // bits: -0 is not 0
  }
}

// One sweep's side of a dimension's comparison: the parameters compared, in the order both sides
// share (by name), each moving along the dimension or a constant of this sweep.
struct Side {
  const Space* space = nullptr;
  std::vector<int> params;  // Space indices
  std::vector<bool> moves;  // params[i] moves along the dimension; else a constant
  uint64_t size = 1;        // the dimension's length (1 when nothing moves)
  uint64_t stride = 0;      // its stride among OLD points (OLD side only)

  sweep_value Value(size_t i, uint64_t k) const {
    return space->ParameterValue(params[i], moves[i] ? k : 0);
  }
};

bool SameTuple(const Side& a, uint64_t ka, const Side& b, uint64_t kb) {
  for (size_t i = 0; i < a.params.size(); ++i)
    if (!SameValue(a.Value(i, ka), b.Value(i, kb))) return false;
  return true;
}

uint64_t TupleHash(const Side& side, uint64_t k) {
  uint64_t h = 0;
  for (size_t i = 0; i < side.params.size(); ++i)
    h += internal::ParameterHash(uint64_t(i) + 1, side.Value(i, k));
  return h;
}

// Gathers (NEW index, OLD offset) pairs, NEW indices ascending, into arithmetic runs.
class RunBuilder {
 public:
  explicit RunBuilder(std::vector<IndexRun>* out) : out_(out) {}
  ~RunBuilder() { Finish(); }
  void Add(uint64_t k, uint64_t offset) {
    if (run_.count == 0) {
      run_ = {k, 1, 1, offset, 0};
    } else if (run_.count == 1) {
      run_.step = k - run_.first;
      run_.old_step = offset - run_.old_first;
      run_.count = 2;
    } else if (k == run_.first + run_.count * run_.step &&
               offset == run_.old_first + run_.count * run_.old_step) {
      ++run_.count;
    } else {
      out_->push_back(run_);
      run_ = {k, 1, 1, offset, 0};
    }
  }
  void Finish() {
    if (run_.count > 0) out_->push_back(run_);
    run_ = IndexRun{};
  }

 private:
  std::vector<IndexRun>* out_;
  IndexRun run_;
};

bool Monotone(const Space& space, int p) {
  const AxisSpec::Kind kind = space.parameter_kind(p);
  return kind == AxisSpec::Kind::kLinspace || kind == AxisSpec::Kind::kLogspace ||
         kind == AxisSpec::Kind::kRange;
}

// a before b along a walk in ascending (or descending) order of values of one type.
bool Before(const sweep_value& a, const sweep_value& b, bool ascending) {
  if (a.type == SWEEP_VALUE_INTEGER)
    return ascending ? a.integer < b.integer : a.integer > b.integer;
  return ascending ? a.number < b.number : a.number > b.number;
}

// Two monotone axes of one parameter, merged like sorted lists.
void MergeMonotone(const Side& now, const Side& old, RunBuilder* runs) {
  const uint64_t n = now.size, m = old.size;
  const sweep_value first = now.Value(0, 0), last = now.Value(0, n - 1);
  if (first.type != old.Value(0, 0).type || first.type == SWEEP_VALUE_STRING) return;
  const bool ascending = !Before(last, first, true);
  const bool old_ascending = !Before(old.Value(0, m - 1), old.Value(0, 0), true);
  // OLD walked in NEW's order of values.
  const bool forward = ascending == old_ascending;
  uint64_t k = 0, walked = 0;
  while (k < n && walked < m) {
    const uint64_t j = forward ? walked : m - 1 - walked;
    const sweep_value x = now.Value(0, k), y = old.Value(0, j);
    if (Before(x, y, ascending)) {
      ++k;
    } else if (Before(y, x, ascending)) {
      ++walked;
    } else {
      if (SameValue(x, y)) runs->Add(k, j * old.stride);
      ++k;  // a value NEW repeats matches the same OLD index again
    }
  }
}

// Any two dimensions: index by index first, then OLD's values hashed.
void MatchTuples(const Side& now, const Side& old, RunBuilder* runs) {
  const uint64_t n = now.size, m = old.size;
  const uint64_t common = std::min(n, m);
  uint64_t aligned = 0;
  while (aligned < common && SameTuple(now, aligned, old, aligned)) ++aligned;
  if (aligned == common || m > kMaxHashedValues) {
    for (uint64_t k = 0; k < aligned; ++k) runs->Add(k, k * old.stride);
    return;
  }
  std::unordered_map<uint64_t, uint64_t> index;  // tuple hash -> first OLD index holding it
  index.reserve(size_t(m));
  for (uint64_t j = 0; j < m; ++j) index.emplace(TupleHash(old, j), j);
  for (uint64_t k = 0; k < n; ++k) {
    const auto it = index.find(TupleHash(now, k));
    if (it != index.end() && SameTuple(now, k, old, it->second))
      runs->Add(k, it->second * old.stride);
  }
}

std::string Quoted(const sweep_value& v) {
  return v.type == SWEEP_VALUE_STRING ? "\"" + ValueText(v) + "\"" : ValueText(v);
}

std::string NameList(const Space& space, const std::vector<int>& params) {
  std::string text;
  for (int p : params)
    text += (text.empty() ? "`" : ", `") + space.parameter_names()[size_t(p)] + "`";
  return text;
}

}  // namespace

PointMatch::PointMatch(const Space& now, const Space& old) {
  why_none_ = Build(now, old);
  none_ = !why_none_.empty();
}

std::string PointMatch::Build(const Space& now, const Space& old) {
  const auto fail = [](std::string why) { return why; };
  const std::vector<std::string>& names = now.parameter_names();
  for (const std::string& name : names) {
    if (old.FindParameter(name) < 0) return fail("parameter `" + name + "` is not in it");
  }
  for (const std::string& name : old.parameter_names()) {
    if (now.FindParameter(name) < 0)
      return fail("its parameter `" + name + "` is not in this sweep");
  }
  // Constants on both sides must be equal.
  for (int p = 0; p < int(names.size()); ++p) {
    const int q = old.FindParameter(names[size_t(p)]);
    if (now.dimension_of(p) >= 0 || old.dimension_of(q) >= 0) continue;
    const sweep_value a = now.ParameterValue(p, 0), b = old.ParameterValue(q, 0);
    if (!SameValue(a, b))
      return fail("constant `" + names[size_t(p)] + "` is " + Quoted(b) + " there, " + Quoted(a) +
                  " here");
  }
  const size_t now_dims = now.dimensions().size(), old_dims = old.dimensions().size();
  const bool now_replicates = now.repeat() > 1, old_replicates = old.repeat() > 1;
  const size_t now_values = now_dims - (now_replicates ? 1 : 0);
  const size_t old_values = old_dims - (old_replicates ? 1 : 0);
  for (size_t d = 0; d < now_dims; ++d) {
    sizes_.push_back(now.dimensions()[d].size);
    strides_.push_back(now.stride(d));
  }
  dims_.resize(now_dims);

  // Which OLD dimension each NEW dimension moves along (-1: none, its parameters are OLD
  // constants), and which NEW dimension claimed each OLD one.
  std::vector<int> along(now_values, -1), claimed(old_values, -1);
  for (size_t d = 0; d < now_values; ++d) {
    const std::vector<int>& params = now.dimensions()[d].parameters;
    for (int p : params) {
      const int e = old.dimension_of(old.FindParameter(names[size_t(p)]));
      if (e < 0) continue;
      if (along[d] >= 0 && along[d] != e)
        return fail(NameList(now, params) +
                    " move together here, along different dimensions there");
      along[d] = e;
    }
    if (along[d] < 0) continue;
    for (int q : old.dimensions()[size_t(along[d])].parameters) {
      const int p = now.FindParameter(old.parameter_names()[size_t(q)]);
      if (now.dimension_of(p) >= 0 && now.dimension_of(p) != int(d))
        return fail(NameList(old, old.dimensions()[size_t(along[d])].parameters) +
                    " move together there, along different dimensions here");
    }
    claimed[size_t(along[d])] = int(d);
  }

  // The two sides of the comparison along NEW dimension d (or, d < 0, OLD dimension e alone).
  const auto sides = [&](int d, int e, Side* a, Side* b) {
    std::vector<std::string> compared;
    if (d >= 0)
      for (int p : now.dimensions()[size_t(d)].parameters) compared.push_back(names[size_t(p)]);
    if (e >= 0)
      for (int q : old.dimensions()[size_t(e)].parameters)
        compared.push_back(old.parameter_names()[size_t(q)]);
    std::sort(compared.begin(), compared.end());
    compared.erase(std::unique(compared.begin(), compared.end()), compared.end());
    *a = Side{&now, {}, {}, d >= 0 ? now.dimensions()[size_t(d)].size : 1, 0};
    *b = Side{&old,
              {},
              {},
              e >= 0 ? old.dimensions()[size_t(e)].size : 1,
              e >= 0 ? old.stride(size_t(e)) : 0};
    for (const std::string& name : compared) {
      const int p = now.FindParameter(name), q = old.FindParameter(name);
      a->params.push_back(p);
      a->moves.push_back(d >= 0 && now.dimension_of(p) == d);
      b->params.push_back(q);
      b->moves.push_back(e >= 0 && old.dimension_of(q) == e);
    }
  };

  // OLD dimensions that NEW holds fixed: at the first index with NEW's constants.
  for (size_t e = 0; e < old_values; ++e) {
    if (claimed[e] >= 0) continue;
    Side a, b;
    sides(-1, int(e), &a, &b);
    uint64_t j = 0;
    while (j < b.size && !SameTuple(a, 0, b, j)) ++j;
    if (j == b.size) {
      std::string values;
      for (size_t i = 0; i < a.params.size(); ++i)
        values += (i ? ", `" : "`") + names[size_t(a.params[i])] + "` = " + Quoted(a.Value(i, 0));
      return fail("it never has " + values);
    }
    fixed_ += j * b.stride;
  }

  for (size_t d = 0; d < now_values; ++d) {
    Side a, b;
    sides(int(d), along[d], &a, &b);
    RunBuilder runs(&dims_[d]);
    if (along[d] < 0) {
      for (uint64_t k = 0; k < a.size; ++k)
        if (SameTuple(a, k, b, 0)) runs.Add(k, 0);
    } else if (a.params.size() == 1 && Monotone(now, a.params[0]) && Monotone(old, b.params[0])) {
      MergeMonotone(a, b, &runs);
    } else {
      MatchTuples(a, b, &runs);
    }
  }
  if (now_replicates) {
    // Replicate r is OLD's replicate r; an OLD sweep without `repeat` has replicate 0 only.
    const uint64_t shared = old_replicates ? std::min(now.repeat(), old.repeat()) : 1;
    dims_[now_dims - 1].push_back({0, 1, shared, 0, old_replicates ? old.stride(old_dims - 1) : 0});
  }
  for (size_t d = 0; d < now_dims; ++d) {
    if (!dims_[d].empty()) continue;
    const Dimension& dimension = now.dimensions()[d];
    return fail(now_replicates && d == now_dims - 1
                    ? std::string("no replicate is in it")
                    : "no value of " +
                          (dimension.parameters.empty() ? "`" + dimension.name + "`"
                                                        : NameList(now, dimension.parameters)) +
                          " is in it");
  }
  return "";
}

uint64_t PointMatch::matches() const {
  if (none_) return 0;
  uint64_t total = 1;
  for (const std::vector<IndexRun>& runs : dims_) {
    uint64_t n = 0;
    for (const IndexRun& r : runs) n += r.count;
    total *= n;
  }
  return total;
}

bool PointMatch::Lookup(size_t d, uint64_t k, uint64_t* offset) const {
  const std::vector<IndexRun>& runs = dims_[d];
  auto it = std::upper_bound(runs.begin(), runs.end(), k,
                             [](uint64_t key, const IndexRun& r) { return key < r.first; });
  if (it == runs.begin()) return false;
  --it;
  const uint64_t delta = k - it->first;
  if (delta % it->step != 0 || delta / it->step >= it->count) return false;
  *offset = it->old_first + (delta / it->step) * it->old_step;
  return true;
}

void PointMatch::ForEach(uint64_t first, uint64_t n,
                         const std::function<void(const MatchRun&)>& visit) const {
  if (none_ || n == 0) return;
  const size_t dims = sizes_.size();
  if (dims == 0) {  // a sweep of one point
    visit({0, 1, fixed_, 1, 1});
    return;
  }
  const size_t inner = dims - 1;  // stride 1
  // The outer dimensions' offsets, looked up again only when their index moves.
  std::vector<uint64_t> last_index(inner, UINT64_MAX), last_offset(inner, 0);
  std::vector<bool> last_found(inner, false);
  const uint64_t end = first + n;
  for (uint64_t p = first; p < end;) {
    const uint64_t k_lo = p % sizes_[inner];
    const uint64_t row_end = std::min(end, p + (sizes_[inner] - k_lo));
    uint64_t base = fixed_;
    bool found = true;
    for (size_t d = 0; d < inner && found; ++d) {
      const uint64_t k = (p / strides_[d]) % sizes_[d];
      if (k != last_index[d]) {
        last_index[d] = k;
        last_found[d] = Lookup(d, k, &last_offset[d]);
      }
      found = last_found[d];
      base += last_offset[d];
    }
    if (found) {
      const uint64_t row_first = p - k_lo, k_hi = k_lo + (row_end - p);
      const std::vector<IndexRun>& runs = dims_[inner];
      auto it = std::upper_bound(runs.begin(), runs.end(), k_lo,
                                 [](uint64_t key, const IndexRun& r) { return key < r.first; });
      if (it != runs.begin()) --it;
      for (; it != runs.end() && it->first < k_hi; ++it) {
        const IndexRun& r = *it;
        const uint64_t j_lo = r.first >= k_lo ? 0 : (k_lo - r.first + r.step - 1) / r.step;
        const uint64_t j_hi = std::min(r.count, (k_hi - r.first + r.step - 1) / r.step);
        if (j_lo >= j_hi) continue;
        visit({row_first + r.first + j_lo * r.step, r.step, base + r.old_first + j_lo * r.old_step,
               r.old_step, j_hi - j_lo});
      }
    }
    p = row_end;
  }
}

nlohmann::json PointMatch::Encode() const {
  nlohmann::json dims = nlohmann::json::array();
  for (const std::vector<IndexRun>& runs : dims_) {
    nlohmann::json list = nlohmann::json::array();
    for (const IndexRun& r : runs)
      list.push_back({r.first, r.step, r.count, r.old_first, r.old_step});
    dims.push_back(std::move(list));
  }
  return {{"none", none_},       {"why_none", why_none_}, {"sizes", sizes_},
          {"strides", strides_}, {"fixed", fixed_},       {"dims", dims}};
}

PointMatch PointMatch::Decode(const nlohmann::json& j) {
  PointMatch match;
  match.none_ = j.at("none").get<bool>();
  match.why_none_ = j.at("why_none").get<std::string>();
  match.sizes_ = j.at("sizes").get<std::vector<uint64_t>>();
  match.strides_ = j.at("strides").get<std::vector<uint64_t>>();
  match.fixed_ = j.at("fixed").get<uint64_t>();
  for (const nlohmann::json& list : j.at("dims")) {
    std::vector<IndexRun> runs;
    for (const nlohmann::json& r : list)
      runs.push_back({r.at(0).get<uint64_t>(), r.at(1).get<uint64_t>(), r.at(2).get<uint64_t>(),
                      r.at(3).get<uint64_t>(), r.at(4).get<uint64_t>()});
    match.dims_.push_back(std::move(runs));
  }
  if (match.dims_.size() != match.sizes_.size() || match.strides_.size() != match.sizes_.size())
    throw nlohmann::json::other_error::create(501, "a point match's dimensions disagree", &j);
  return match;
}

}  // namespace sweep
