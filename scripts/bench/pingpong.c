/* pingpong: the cost of one round trip of 1 byte between two processes over a pair of pipes.
 *
 * The yardstick of the per-chunk overhead benchmark: handing a worker a chunk and hearing back
 * that it is done cannot cost less than one such round trip, so sweep's time per empty chunk is
 * compared with it. Usage: pingpong ROUND_TRIPS; prints the mean microseconds per round trip
 * (wall time of all round trips / their number) as one number on stdout. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  int to_child[2], to_parent[2];
  if (n < 1 || pipe(to_child) != 0 || pipe(to_parent) != 0) return 1;
  pid_t pid = fork();
  if (pid < 0) return 1;
  char byte = 0;
  if (pid == 0) {
    /* The echo side: every byte read is sent straight back; end of file ends it. */
    close(to_child[1]);
    close(to_parent[0]);
    while (read(to_child[0], &byte, 1) == 1)
      if (write(to_parent[1], &byte, 1) != 1) _exit(1);
    _exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  double start = now();
  for (long i = 0; i < n; ++i) {
    if (write(to_child[1], &byte, 1) != 1 || read(to_parent[0], &byte, 1) != 1) return 1;
  }
  double seconds = now() - start;
  close(to_child[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  printf("%.4f\n", seconds / n * 1e6);
  return 0;
}
