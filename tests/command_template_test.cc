// Tests of the command kernel's templates (kernels/command_template.h): what each placeholder
// renders to, the braces, and the mistakes refused with the offset to blame, `${T}` above all.
#include "kernels/command_template.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>

namespace sweep {
namespace {

// Parameters T (a number), n (an integer) and label (a string), in that order.
struct Fixture {
  std::map<std::string, int> used;
  TemplateNames names;
  std::vector<sweep_value> values = {{SWEEP_VALUE_NUMBER, 1e-12, 0, nullptr},
                                     {SWEEP_VALUE_INTEGER, 7, 7, nullptr},
                                     {SWEEP_VALUE_STRING, 0, 0, "a b"}};
  Fixture() {
    names.parameter_names = {"T", "n", "label"};
    names.config_dir = "/home/me/project";
    names.parameter = [this](const std::string& name) {
      for (size_t i = 0; i < names.parameter_names.size(); ++i)
        if (names.parameter_names[i] == name) return used[name] = int(i);
      return -1;
    };
  }
  std::string Render(const std::string& text, uint64_t seed = 42, uint64_t point = 3) {
    CommandTemplate pieces;
    const std::optional<TemplateError> error = ParseCommandTemplate(text, names, &pieces);
    EXPECT_FALSE(error) << text << ": " << (error ? error->message : "");
    return RenderCommandTemplate(pieces,
                                 {values.data(), seed, point, "/scratch/out.h5.work/point-3"});
  }
  TemplateError Error(const std::string& text) {
    CommandTemplate pieces;
    const std::optional<TemplateError> error = ParseCommandTemplate(text, names, &pieces);
    EXPECT_TRUE(error) << text << " was accepted";
    return error.value_or(TemplateError{});
  }
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CommandTemplateTest, EachPlaceholderRendersItsValue) {
  Fixture f;
  EXPECT_EQ(f.Render("T={T} n={n} label={label}"), "T=1e-12 n=7 label=a b");
  EXPECT_EQ(f.Render("{seed} {seed31} {point}", 15034821391391295848u, 9),
            "15034821391391295848 " + std::to_string(Seed31(15034821391391295848u)) + " 9");
  EXPECT_EQ(f.Render("{config_dir}/programs/sim.py"), "/home/me/project/programs/sim.py");
  EXPECT_EQ(f.Render("cd {workdir}"), "cd /scratch/out.h5.work/point-3");
  EXPECT_EQ(f.Render("{{literal}} and }} alone"), "{literal} and } alone");
  EXPECT_EQ(f.Render("no placeholder at all"), "no placeholder at all");
}

TEST(CommandTemplateTest, Seed31IsAPositive31BitIntegerDerivedFromTheSeed) {
  for (uint64_t seed :
       {uint64_t{0}, uint64_t{1}, uint64_t{2147483646}, uint64_t{2147483647}, uint64_t{2147483648},
        uint64_t{15034821391391295848u}, std::numeric_limits<uint64_t>::max()}) {
    const uint32_t s = Seed31(seed);
    EXPECT_GE(s, 1u) << seed;
    EXPECT_LE(s, 2147483647u) << seed;
    EXPECT_EQ(s, 1 + seed % 2147483647u) << seed;  // the documented rule, so it is reproducible
  }
  // Neighbouring seeds stay apart.
  EXPECT_NE(Seed31(5), Seed31(6));
}

// LAMMPS, shells and Make write `${name}`: substituted, `${T}` reached LAMMPS as `$1e-12`.
TEST(CommandTemplateTest, APlaceholderRightAfterADollarIsRefusedWithTheEscape) {
  Fixture f;
  const std::string text = "variable t equal 1\nvelocity all create ${T} 4928459\n";
  const TemplateError e = f.Error(text);
  EXPECT_EQ(e.offset, text.find("${T}"));
  EXPECT_TRUE(Contains(e.message, "`${T}` looks like the program's own variable syntax"))
      << e.message;
  EXPECT_TRUE(Contains(e.message, "write `${{T}}` to pass `${T}` on as it is")) << e.message;
  EXPECT_TRUE(Contains(e.message, "or `{T}` without the `$` for the value")) << e.message;
  // A name sweep does not know is the program's too: the escape, not "unknown placeholder".
  const TemplateError home = f.Error("cd ${HOME}");
  EXPECT_TRUE(Contains(home.message, "write `${{HOME}}`")) << home.message;
  EXPECT_FALSE(Contains(home.message, "without the `$`")) << home.message;
  // One meant for sweep is told where sweep reads the environment: only in paths.
  EXPECT_TRUE(Contains(home.message, "only in paths, such as the program")) << home.message;
  // The escapes render what the program reads.
  EXPECT_EQ(f.Render("velocity all create ${{T}} {seed31}", 5),
            "velocity all create ${T} " + std::to_string(Seed31(5)));
  EXPECT_EQ(f.Render("print \"T ${{{label}}}\""), "print \"T ${a b}\"");
  EXPECT_EQ(f.Render("$ {T} costs $5"), "$ 1e-12 costs $5");
}

TEST(CommandTemplateTest, FormatSpecsAreRefusedSayingWhy) {
  Fixture f;
  const TemplateError e = f.Error("temperature = {T:.3f}");
  EXPECT_EQ(e.offset, 14u);
  EXPECT_TRUE(Contains(e.message, "`{T:.3f}`: placeholders take no format")) << e.message;
  EXPECT_TRUE(Contains(e.message, "computes with the value the output records")) << e.message;
  EXPECT_TRUE(Contains(f.Error("{seed:08d}").message, "take no format"));
}

TEST(CommandTemplateTest, MistakesNameTheirBrace) {
  Fixture f;
  TemplateError e = f.Error("a {nope} b");
  EXPECT_EQ(e.offset, 2u);
  EXPECT_TRUE(Contains(e.message,
                       "unknown placeholder `{nope}` (placeholders: {T}, {n}, "
                       "{label}, {seed}, {seed31}, {point}, {config_dir}, {workdir}"))
      << e.message;
  e = f.Error("x {T");
  EXPECT_EQ(e.offset, 2u);
  EXPECT_TRUE(Contains(e.message, "`{` without its `}`"));
  e = f.Error("{T\n}");
  EXPECT_TRUE(Contains(e.message, "`{` without its `}`"));
  e = f.Error("x } y");
  EXPECT_EQ(e.offset, 2u);
  EXPECT_TRUE(Contains(e.message, "lone `}`"));
}

TEST(CommandTemplateTest, OnlyTheParametersUsedAreAskedFor) {
  Fixture f;
  CommandTemplate pieces;
  ASSERT_FALSE(ParseCommandTemplate("{label} {seed} {label}", f.names, &pieces));
  EXPECT_EQ(f.used.size(), 1u);
  EXPECT_TRUE(HasPlaceholders(pieces));
  CommandTemplate literal;
  ASSERT_FALSE(ParseCommandTemplate("{config_dir}/a {{b}}", f.names, &literal));
  EXPECT_FALSE(HasPlaceholders(literal));  // {config_dir} is known when the kernel is bound
}

}  // namespace
}  // namespace sweep
