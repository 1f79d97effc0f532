#include "kernels/command_template.h"

#include <utility>

#include "kernels/dtype.h"

namespace sweep {
namespace {

const char* const kSpecialNames[] = {"seed", "seed31", "point", "config_dir", "workdir"};

std::string KnownPlaceholders(const TemplateNames& names) {
  std::string known;
  for (const std::string& p : names.parameter_names) known += "{" + p + "}, ";
  for (const char* special : kSpecialNames) known += std::string("{") + special + "}, ";
  known.resize(known.size() - 2);
  return known;
}

// `{name}` right after a `$`: the program's own variable, most likely.
std::string DollarMessage(const std::string& name, bool known) {
  std::string message = "`${" + name +
                        "}` looks like the program's own variable syntax (LAMMPS, shells and Make "
                        "write `${name}`), but sweep would replace `{" +
                        name + "}`" + (known ? " and pass `$` and the value" : "") +
                        ": write `${{" + name + "}}` to pass `${" + name + "}` on as it is";
  if (known) message += ", or `{" + name + "}` without the `$` for the value";
  // An environment variable meant for sweep: it expands those only in the config's paths.
  if (!known)
    message +=
        " (sweep reads `${NAME}` from its environment only in paths, such as the "
        "program, never in arguments, `env:` values or templates)";
  return message;
}

std::string FormatSpecMessage(const std::string& placeholder, const std::string& name) {
  return "`{" + placeholder +
         "}`: placeholders take no format: sweep writes every value exactly (the shortest text "
         "that reads back as the same number), so the program computes with the value the "
         "output records; write `{" +
         name +
         "}`, and give the axis the values you want (`values: [0.5, 1.25]`) if they must be "
         "round";
}

}  // namespace

std::optional<TemplateError> ParseCommandTemplate(const std::string& text,
                                                  const TemplateNames& names,
                                                  CommandTemplate* pieces) {
  std::string literal;
  const auto flush = [&] {
    if (!literal.empty())
      pieces->push_back(CommandPiece{CommandPiece::Kind::kText, std::move(literal), -1});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal += c;
      ++i;
      continue;
    }
    if (c == '}') return TemplateError{"a lone `}` (write `}}` for a literal brace)", i};
    if (c != '{') {
      literal += c;
      continue;
    }
    const size_t close = text.find_first_of("{}\n", i + 1);
    if (close == std::string::npos || text[close] != '}')
      return TemplateError{"a `{` without its `}` (write `{{` for a literal brace)", i};
    const std::string placeholder = text.substr(i + 1, close - i - 1);
    const size_t colon = placeholder.find(':');
    const std::string name = placeholder.substr(0, colon);
    int param = -1;
    CommandPiece::Kind kind = CommandPiece::Kind::kParam;
    bool known = true;
    if (!names.once_per_program.empty() && name != "config_dir") {
      if (i > 0 && text[i - 1] == '$')
        return TemplateError{DollarMessage(placeholder, false), i - 1};
      return TemplateError{"`{" + placeholder + "}`: " + names.once_per_program, i};
    }
    if (name == "seed") {
      kind = CommandPiece::Kind::kSeed;
    } else if (name == "seed31") {
      kind = CommandPiece::Kind::kSeed31;
    } else if (name == "point") {
      kind = CommandPiece::Kind::kPoint;
    } else if (name == "workdir") {
      kind = CommandPiece::Kind::kWorkdir;
    } else if (name == "config_dir") {
      kind = CommandPiece::Kind::kText;
    } else {
      param = names.parameter(name);
      known = param >= 0;
    }
    // Checked before the name: `${HOME}` is the program's, whatever sweep calls its parameters.
    if (i > 0 && text[i - 1] == '$')
      return TemplateError{DollarMessage(placeholder, known), i - 1};  // where `${T}` starts
    if (known && colon != std::string::npos)
      return TemplateError{FormatSpecMessage(placeholder, name), i};
    if (!known) {
      return TemplateError{"unknown placeholder `{" + placeholder + "}` (placeholders: " +
                               KnownPlaceholders(names) + "; `{{` and `}}` for literal braces)",
                           i};
    }
    if (name == "config_dir") {
      literal += names.config_dir;
    } else {
      flush();
      pieces->push_back(CommandPiece{kind, "", param});
    }
    i = close;
  }
  flush();
  return std::nullopt;
}

bool HasPlaceholders(const CommandTemplate& pieces) {
  for (const CommandPiece& p : pieces)
    if (p.kind != CommandPiece::Kind::kText) return true;
  return false;
}

std::string RenderCommandTemplate(const CommandTemplate& pieces, const PointText& point) {
  std::string text;
  for (const CommandPiece& piece : pieces) {
    switch (piece.kind) {
      case CommandPiece::Kind::kText:
        text += piece.text;
        break;
      case CommandPiece::Kind::kParam:
        text += ValueText(point.params[piece.param]);
        break;
      case CommandPiece::Kind::kSeed:
        text += std::to_string(point.seed);
        break;
      case CommandPiece::Kind::kSeed31:
        text += std::to_string(Seed31(point.seed));
        break;
      case CommandPiece::Kind::kPoint:
        text += std::to_string(point.point);
        break;
      case CommandPiece::Kind::kWorkdir:
        text += point.workdir;
        break;
    }
  }
  return text;
}

uint32_t Seed31(uint64_t seed) { return uint32_t(1 + seed % 2147483647u); }

}  // namespace sweep
