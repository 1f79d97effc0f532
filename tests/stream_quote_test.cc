// Tests of QuoteStreams (kernels/stream_quote.h): a failed program's own words come first, from
// either stream, within the message's room, as one line of valid UTF-8.
#include "kernels/stream_quote.h"

#include <gtest/gtest.h>

#include <string>

namespace sweep {
namespace {

// What LAMMPS and Open MPI print when an input names an undefined variable.
const char kLammpsStdout[] =
    "LAMMPS (7 Jan 2022)\n"
    "Created orthogonal box = (0 0 0) to (6.7183848 6.7183848 6.7183848)\n"
    "Created 256 atoms\n"
    "ERROR on proc 0: Substitution for illegal variable T (src/input.cpp:617)\n"
    "Last command: velocity        all create ${T} 87287 loop geom\n";
const char kOpenMpiStderr[] =
    "--------------------------------------------------------------------------\n"
    "MPI_ABORT was invoked on rank 0 in communicator MPI_COMM_WORLD\n"
    "with errorcode 1.\n"
    "\n"
    "NOTE: invoking MPI_ABORT causes Open MPI to kill all MPI processes.\n"
    "You may or may not see output from other processes, depending on\n"
    "exactly when Open MPI kills them.\n"
    "--------------------------------------------------------------------------\n";

TEST(StreamQuoteTest, TheCodesErrorOnStdoutIsQuotedBesideTheLaunchersStderr) {
  const std::string quote = QuoteStreams(kLammpsStdout, kOpenMpiStderr, 1000);
  EXPECT_EQ(quote.rfind("stdout: ERROR on proc 0: Substitution for illegal variable T "
                        "(src/input.cpp:617) | Last command: velocity        all create ${T} "
                        "87287 loop geom; stderr: ",
                        0),
            0u)
      << quote;
  EXPECT_NE(quote.find("MPI_ABORT"), std::string::npos) << quote;
  EXPECT_EQ(quote.find("Created 256 atoms"), std::string::npos) << quote;  // before the error
  // In a small room (the output file keeps 256 bytes of a reason) the code's words still lead.
  const std::string small = QuoteStreams(kLammpsStdout, kOpenMpiStderr, 200);
  EXPECT_LE(small.size(), 200u);
  EXPECT_EQ(small.rfind("stdout: ERROR on proc 0: Substitution for illegal variable T", 0), 0u)
      << small;
}

TEST(StreamQuoteTest, AStreamThatSaysWhatWentWrongComesFirst) {
  const std::string quote =
      QuoteStreams("step 1\nstep 2\nstep 3\n",
                   "Traceback (most recent call last):\n  File \"sim.py\", line 3\n"
                   "ValueError: rho must be positive\n",
                   1000);
  EXPECT_EQ(quote, "stderr: ValueError: rho must be positive; stdout: step 1 | step 2 | step 3")
      << quote;
  EXPECT_TRUE(
      SaysWhatWentWrong("forrtl: severe (174): SIGSEGV, segmentation fault occurred"
                        " (Fatal)"));
  EXPECT_TRUE(SaysWhatWentWrong("Aborted (core dumped)"));
  EXPECT_TRUE(SaysWhatWentWrong("terminate called after throwing an instance of std::exception"));
  EXPECT_FALSE(SaysWhatWentWrong("step 12: residual 1e-3"));
}

TEST(StreamQuoteTest, WithoutSuchALineTheTailIsQuotedFromALineStart) {
  std::string log;
  for (int i = 0; i < 500; ++i) log += "stderr line " + std::to_string(i) + "\n";
  const std::string quote = QuoteStreams("", log, 300);
  EXPECT_LE(quote.size(), 300u);
  EXPECT_GT(quote.size(), 250u);
  EXPECT_EQ(quote.rfind("stderr: ...stderr line ", 0), 0u) << quote;
  EXPECT_NE(quote.find("stderr line 498 | stderr line 499"), std::string::npos) << quote;
  EXPECT_EQ(quote.substr(quote.size() - 15), "stderr line 499");
  EXPECT_EQ(QuoteStreams(" \n\t\n", "", 300), "");
  EXPECT_EQ(QuoteStreams("x", "y", 10), "");  // no room
}

// A stdout that holds the outputs may be 64 MiB: only its end is looked at.
TEST(StreamQuoteTest, OnlyTheEndOfALongStreamIsLookedAt) {
  std::string log = "ERROR: long ago\n";
  while (log.size() < (size_t{8} << 20)) log += "v 0 0 0\n";
  EXPECT_EQ(QuoteStreams(log, "", 40), "stdout: ...v 0 0 0 | v 0 0 0 | v 0 0 0");
  const std::string one_line(size_t{8} << 20, 'x');
  const std::string quote = QuoteStreams(one_line, "", 40);
  EXPECT_EQ(quote, "stdout: ..." + std::string(29, 'x'));
}

TEST(StreamQuoteTest, TheQuoteIsOneLineOfValidUtf8WhateverTheProgramWrote) {
  // A long line of three-byte characters, control bytes and an invalid sequence.
  std::string line = "ERROR: \x01\x7f\xff";
  for (int i = 0; i < 400; ++i) line += "\xe2\x82\xac";  // the euro sign
  const std::string quote = QuoteStreams(line + "\n", "a\tb\r\n", 256);
  EXPECT_LE(quote.size(), 256u);
  EXPECT_EQ(quote.find('\n'), std::string::npos);
  EXPECT_EQ(quote.rfind("stdout: ERROR: ???", 0), 0u) << quote;
  // Valid UTF-8: every lead byte has its continuation bytes.
  for (size_t i = 0; i < quote.size();) {
    const unsigned char c = static_cast<unsigned char>(quote[i]);
    const size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    ASSERT_LE(i + len, quote.size()) << "cut inside a character";
    for (size_t k = 1; k < len; ++k)
      ASSERT_EQ(static_cast<unsigned char>(quote[i + k]) & 0xc0, 0x80) << i;
    i += len;
  }
  EXPECT_NE(quote.find("; stderr: a b"), std::string::npos) << quote;
}

}  // namespace
}  // namespace sweep
