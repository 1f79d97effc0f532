/* fake_sim: a stand-in simulation program for the command kernel's tests.
 *
 *   fake_sim MODE X [ARGS...]
 *
 * prints outputs `y` (a scalar) and `v` (3 values) computed from the number X, in the way MODE
 * says, or misbehaves as MODE says:
 *   json      {"y": X, "v": [X, 2X, 3X]}
 *   lines     `y X` and `v X 2X 3X`
 *   argv      like json, after writing ARGS to the file named by the first of them, one a line
 *   env       like json, with y = SWEEP_POINT and v = [SWEEP_SEED mod 1000, open descriptors
 *             above 2, bytes read from stdin]
 *   flood     like lines, after writing X MiB to stderr
 *   exit      writes to stderr, then exits with code X
 *   abort     writes to stderr, then aborts (SIGABRT)
 *   malformed prints `{"y": X,` (broken JSON)
 *   missing   prints only `y X`
 *   short     prints `y X` and `v X 2X` (one value short)
 *   loud      writes 5000 numbered lines to stderr, then exits with code 2
 *   spew      writes 80 MiB of `v 0 0 0` lines to stdout (X is ignored)
 *   sleep     writes to stderr, starts a child that sleeps too, then sleeps X seconds
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_json(double x) {
  printf("{\"y\": %.17g, \"v\": [%.17g, %.17g, %.17g]}\n", x, x, 2 * x, 3 * x);
}

static int open_fds_above_2(void) {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  struct dirent* e;
  if (!d) return -1;
  while ((e = readdir(d)) != NULL) {
    const int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d)) ++n;
  }
  closedir(d);
  return n;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fake_sim MODE X [ARGS...]\n");
    return 64;
  }
  const char* mode = argv[1];
  const double x = atof(argv[2]);
  if (strcmp(mode, "json") == 0) {
    print_json(x);
  } else if (strcmp(mode, "lines") == 0) {
    printf("y %.17g\n\nv %.17g %.17g %.17g\n", x, x, 2 * x, 3 * x);
  } else if (strcmp(mode, "argv") == 0) {
    FILE* f = argc > 3 ? fopen(argv[3], "a") : NULL;
    if (!f) return 65;
    for (int i = 0; i < argc; ++i) fprintf(f, "%s\n", argv[i]);
    fclose(f);
    print_json(x);
  } else if (strcmp(mode, "env") == 0) {
    const char* point = getenv("SWEEP_POINT");
    const char* seed = getenv("SWEEP_SEED");
    char c;
    const ssize_t got = read(0, &c, 1);
    printf("{\"y\": %s, \"v\": [%llu, %d, %zd]}\n", point ? point : "null",
           seed ? strtoull(seed, NULL, 10) % 1000 : 9999ULL, open_fds_above_2(), got);
  } else if (strcmp(mode, "flood") == 0) {
    static char block[1 << 20];
    memset(block, 'e', sizeof block);
    for (int i = 0; i < (int)x; ++i) fwrite(block, 1, sizeof block, stderr);
    fprintf(stderr, "\nflood done\n");
    printf("y %.17g\nv %.17g %.17g %.17g\n", x, x, 2 * x, 3 * x);
  } else if (strcmp(mode, "exit") == 0) {
    fprintf(stderr, "noise\nfake_sim: giving up at x=%g\n", x);
    return (int)x;
  } else if (strcmp(mode, "abort") == 0) {
    fprintf(stderr, "fake_sim: about to abort\n");
    fflush(stderr);
    abort();
  } else if (strcmp(mode, "malformed") == 0) {
    printf("{\"y\": %g,\n", x);
  } else if (strcmp(mode, "missing") == 0) {
    printf("y %g\n", x);
  } else if (strcmp(mode, "short") == 0) {
    printf("y %g\nv %g %g\n", x, x, 2 * x);
  } else if (strcmp(mode, "loud") == 0) {
    for (int i = 0; i < 5000; ++i) fprintf(stderr, "stderr line %d\n", i);
    return 2;
  } else if (strcmp(mode, "spew") == 0) {
    for (long i = 0; i < (80L << 20) / 8; ++i) fputs("v 0 0 0\n", stdout);
  } else if (strcmp(mode, "sleep") == 0) {
    fprintf(stderr, "fake_sim: sleeping %g s\n", x);
    fflush(stderr);
    if (fork() == 0) {
      sleep((unsigned)x + 1);
      _exit(0);
    }
    sleep((unsigned)x);
    print_json(x);
  } else {
    fprintf(stderr, "fake_sim: unknown mode %s\n", mode);
    return 64;
  }
  return 0;
}
