#include "driver/point_batch.h"

namespace sweep {

PointBatch::PointBatch(const Space& space, const KernelBinding& binding, uint64_t capacity)
    : space_(space) {
  for (int parameter : binding.parameter_source) {
    Column c;
    c.parameter = parameter;
    switch (space.parameter_type(parameter)) {
      case Value::Type::kString:
        c.type = SWEEP_VALUE_STRING;
        c.strings.resize(capacity);
        break;
      case Value::Type::kInteger:
        c.type = SWEEP_VALUE_INTEGER;
        c.numbers.resize(capacity);
        c.integers.resize(capacity);
        break;
      default:
        c.type = SWEEP_VALUE_NUMBER;
        c.numbers.resize(capacity);
    }
    columns_.push_back(std::move(c));
  }
  for (const Column& c : columns_) {
    views_.push_back(sweep_column{c.type, c.numbers.empty() ? nullptr : c.numbers.data(),
                                  c.integers.empty() ? nullptr : c.integers.data(),
                                  c.strings.empty() ? nullptr : c.strings.data()});
  }
  if (!(binding.kernel->flags & SWEEP_KERNEL_IGNORES_SEED)) seeds_.resize(capacity);
  batch_.params = views_.data();
  batch_.seeds = seeds_.empty() ? nullptr : seeds_.data();
}

uint64_t PointBatch::BytesPerPoint(const Space& space, const KernelBinding& binding) {
  uint64_t bytes = binding.kernel->flags & SWEEP_KERNEL_IGNORES_SEED ? 0 : 8;
  for (int parameter : binding.parameter_source)
    bytes += space.parameter_type(parameter) == Value::Type::kInteger ? 16 : 8;
  return bytes;
}

const sweep_batch& PointBatch::Fill(uint64_t first, uint64_t n) {
  for (Column& c : columns_) {
    space_.ParameterColumn(c.parameter, first, n, c.numbers.data(), c.integers.data(),
                           c.strings.data());
  }
  if (!seeds_.empty()) space_.Seeds(first, n, seeds_.data());
  batch_.count = int64_t(n);
  return batch_;
}

void PointBatch::DropSeeds() {
  seeds_ = {};
  batch_.seeds = nullptr;
}

sweep_value PointBatch::Value(size_t j, uint64_t i) const {
  const Column& c = columns_[j];
  sweep_value v{};
  v.type = c.type;
  if (c.type == SWEEP_VALUE_STRING) {
    v.string = c.strings[i];
  } else {
    v.number = c.numbers[i];
    if (c.type == SWEEP_VALUE_INTEGER) v.integer = c.integers[i];
  }
  return v;
}

}  // namespace sweep
