// Reading the command kernel's outputs (kernels/command.h) from what its program wrote: its
// stdout, or the results file it wrote in its work directory.
//
// Real codes print a log; the outputs are found among its lines, every other line is ignored:
//   - a JSON object, starting on a line whose first non-blank character is `{` and running over
//     as many lines as it takes: its members named like declared outputs are read, any other
//     member is ignored (a code's metadata). A value is a number or an array of numbers, nested
//     in C order or flat; null stands for NaN, and the bare NaN, Infinity and -Infinity that
//     Python's json.dumps writes are accepted. A `{` line that does not parse as JSON is a log
//     line like any other. A result object is the whole answer for the outputs it holds: lines
//     and columns that name them are log then, and two objects giving one output are an error.
//   - `name value...` lines: a line whose first word is a declared output and whose other words
//     are all numbers (`energy 1.5`, `trace 0.1 0.2 ...`; nan and inf accepted). The last line of
//     a name counts: codes print progress (`temp 300` after every segment).
//   - columns: a header line of declared outputs' names (`freq gain_db`, `trace` alone, `# freq,
//     gain_db` as numpy.savetxt writes it), separated by blanks or commas, followed by rows of as
//     many numbers: each column, top to bottom, is the output its header names (in C order for
//     a shape of several dimensions). The rows end at the first line that is not such a row. Like
//     a line, the last column under a name counts.
// Several objects, lines and columns may share the outputs between them. Nothing here sees a
// program that has not exited: kernels/command.h reads outputs only after a clean exit.
//
// Numbers follow one rule in JSON, lines and columns (configs/README.md): decimal (a line may
// also write `+1`), or nan/inf/infinity in a line and null/NaN/Infinity in JSON; `-0` keeps its
// sign; a finite number beyond a double (1e999) is out of range for any dtype, in JSON too (where
// the parser would refuse the object and make it a log line).
//
// Errors (the point fails with the message): the wrong number of values in the line or column
// that counts, a value its dtype cannot hold (a finite value beyond a float dtype's range, 1e300
// into float32, as an integer beyond an integer dtype's; integer outputs take integral values),
// an output given twice in JSON (in one object or in two), and a declared output found nowhere.
// Where a line is to blame the message names it ("stdout line 12: output `trace`: expected 4
// values, got 3"; a column: "out.txt lines 3-63 (a column): ..."); a missing output's message
// also says why a line that looked like it was not read ("line 3 names it, but `J` is not a
// number"; a `{` line that is not JSON, with the parser's message; members of the objects read
// that are not outputs, for a misspelt name).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace sweep {

// Reads the outputs in `text` into one point's views; outputs[i] holds decls[i]. `source` names
// the text in messages: "stdout", or the results file's name. Returns "" on success, else what
// is wrong.
std::string ReadCommandOutputs(const std::string& text, const std::string& source,
                               const std::vector<sweep_output_decl>& decls, sweep_array* outputs);

// A line that is one JSON object and nothing else (blanks around it aside), parsed, with NaN,
// Infinity and -Infinity accepted as above; nullopt for any other line. A stream/1 program's
// result lines (kernels/persistent.h) are such objects.
std::optional<nlohmann::json> JsonObjectLine(const std::string& line);

// Reads every declared output from the members of one JSON object made by JsonObjectLine into
// one point's views, as ReadCommandOutputs reads an object; members that are not outputs are
// ignored. Returns "" on success, else what is wrong: a declared output that is not a member
// ("no output `energy` (its members: point, energ)"), or a value that does not fit.
std::string ReadOutputsFromJson(const nlohmann::json& object,
                                const std::vector<sweep_output_decl>& decls, sweep_array* outputs);

// "energy, trace": the declared outputs' names, for messages.
std::string OutputList(const std::vector<sweep_output_decl>& decls);

}  // namespace sweep
