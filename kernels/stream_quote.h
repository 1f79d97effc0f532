// What a failed program said, quoted in one line for its failure's message (kernels/command.h):
// the last lines of its stdout and of its stderr, each from the last line that says what went
// wrong when one does.
//
// A line "says what went wrong" when it holds, in any case, `error`, `fatal`, `exception` or
// `abort`: LAMMPS's `ERROR: ...`, Fortran's `forrtl: severe ... (fatal)`, a Python traceback's
// `ValueError: ...`, Open MPI's `MPI_ABORT was invoked`. Such a line and the lines after it are
// quoted (cut at the end when long: it is the line that matters); a stream without one is quoted
// by its tail (cut at the start, from a line start). Blank lines are left out, lines are joined
// by " | ". The stream with such a line comes first; stdout first when both or neither have one.
// Only the last 16 KiB of each stream are looked at: a program's last words, not its whole log.
//
//   "stdout: ERROR: Substitution for illegal variable T (input.cpp:612) | Last command: ...;
//    stderr: MPI_ABORT was invoked on rank 0 ..."
#pragma once

#include <cstddef>
#include <string>

namespace sweep {

// The quote of the two streams in at most `room` bytes, `label: text` for each stream that is
// not blank, joined by "; "; "" when both are blank or the room is under 32 bytes. Valid UTF-8,
// one line (Printable(), kernels/program.h).
std::string QuoteStreams(const std::string& out, const std::string& err, size_t room);

// Whether `line` says what went wrong (above).
bool SaysWhatWentWrong(const std::string& line);

}  // namespace sweep
