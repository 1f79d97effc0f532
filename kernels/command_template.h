// Templates of the command kernel (kernels/command.h): its arguments, the text of each file of
// `files:` and each value of `env:`, parsed once when the kernel is bound and rendered for every
// point.
//
// Placeholders, each replaced by text for the point:
//   {name}        the point's value of sweep parameter `name`: an integer in decimal, a number as
//                 the shortest text that reads back as the same double (1e-12, 0.1, 300), a
//                 string verbatim. Never rounded: the program computes with the very value the
//                 output records. (There are no format specs such as `{T:.3f}`: a rounded value
//                 would compute one point and label it another; `validate` refuses them.)
//   {seed}        the point's seed, 0 to 2^64-1 (driver/space.h)
//   {seed31}      Seed31(seed): 1 to 2^31-1, for codes and RNGs that take a positive 31-bit
//                 integer (LAMMPS `velocity ... create T SEED`, most Fortran codes); as
//                 reproducible as {seed}
//   {point}       the point's index
//   {config_dir}  the absolute folder of the config (the folder of the config an output stores,
//                 for a resume): where the user's own scripts and data are
//   {workdir}     the absolute path of the point's work directory, the program's working folder
// `{{` and `}}` are literal braces.
//
// Refused, with the offset of the brace to blame (of the `$` of `${T}`): a lone `}`, a `{`
// without its `}` on the same line, an unknown name, a format spec, and a placeholder right after
// a `$`. `${T}` is how LAMMPS, shells, Make and many input formats name their own variables;
// substituted, it would reach the program as `$300`. The message says to write `${{T}}` for the
// program's own `${T}`, or `{T}` for the value.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace sweep {

// One piece of a template, already parsed.
struct CommandPiece {
  enum class Kind { kText, kParam, kSeed, kSeed31, kPoint, kWorkdir };
  Kind kind = Kind::kText;
  std::string text;  // kText: literal text, braces already unescaped ({config_dir} resolved)
  int param = -1;    // kParam: index into the kernel's parameters (CommandSpec::param_names)
};
using CommandTemplate = std::vector<CommandPiece>;

// What a template may name, for ParseCommandTemplate.
struct TemplateNames {
  // The index the kernel gives sweep parameter `name` (adding it on first use), or -1 when the
  // sweep has no such parameter.
  std::function<int(const std::string& name)> parameter;
  std::vector<std::string> parameter_names;  // every sweep parameter, for messages
  std::string config_dir;                    // absolute: what {config_dir} stands for
  // Set for templates rendered once per program (a persistent program's): every placeholder
  // but {config_dir} is refused, the message giving this reason.
  std::string once_per_program;
};

// A problem in a template: what, and the byte offset of the brace to blame.
struct TemplateError {
  std::string message;
  size_t offset = 0;
};

// Splits `text` into pieces; nullopt when it is a valid template, else the first problem.
std::optional<TemplateError> ParseCommandTemplate(const std::string& text,
                                                  const TemplateNames& names,
                                                  CommandTemplate* pieces);

// Whether a template names anything but literal text.
bool HasPlaceholders(const CommandTemplate& pieces);

// What the placeholders of a template stand for at one point.
struct PointText {
  const sweep_value* params = nullptr;  // indexed by CommandPiece::param
  uint64_t seed = 0;
  uint64_t point = 0;
  std::string workdir;  // absolute
};

// The template's text for one point.
std::string RenderCommandTemplate(const CommandTemplate& pieces, const PointText& point);

// The seed of {seed31}: 1 + seed mod (2^31 - 1), in 1..2^31-1.
uint32_t Seed31(uint64_t seed);

}  // namespace sweep
