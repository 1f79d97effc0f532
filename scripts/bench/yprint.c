/* yprint: the smallest external program a `command` kernel can run: prints "y <its argument>".
 *
 * The external-commands benchmark runs it once per point through sweep's `command` kernel and
 * through GNU parallel, so what is measured is the cost of starting a program and reading its
 * output, not the program. */
#include <stdio.h>

int main(int argc, char** argv) {
  printf("y %s\n", argc > 1 ? argv[1] : "0");
  return 0;
}
