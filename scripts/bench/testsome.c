// Cost of one MPI_Testsome over R posted receives that never complete: rank 0's look for
// messages with one receive posted per rank (driver/mpi_run.cc, Mailbox::Poll). The bench README
// (9, second pass) builds its estimate of the largest allocation on it.
//   mpicc -O2 scripts/bench/testsome.c -o /tmp/testsome && mpirun -np 1 /tmp/testsome
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int sizes[] = {10, 100, 1000, 10000};
  for (int s = 0; s < 4; ++s) {
    int r = sizes[s];
    MPI_Request* req = malloc(sizeof(MPI_Request) * r);
    int* idx = malloc(sizeof(int) * r);
    char* buf = malloc((size_t)r * 64);
    for (int i = 0; i < r; ++i)
      MPI_Irecv(buf + 64 * i, 64, MPI_BYTE, 0, 100 + i, MPI_COMM_WORLD, &req[i]);
    int loops = 2000000 / r + 100, done;
    double t0 = now();
    for (int k = 0; k < loops; ++k) MPI_Testsome(r, req, &done, idx, MPI_STATUSES_IGNORE);
    double t = (now() - t0) / loops;
    printf("R=%5d  Testsome %.3g us  (%.3g ns per request)\n", r, t * 1e6, t * 1e9 / r);
    for (int i = 0; i < r; ++i) {
      MPI_Cancel(&req[i]);
      MPI_Wait(&req[i], MPI_STATUS_IGNORE);
    }
    free(req);
    free(idx);
    free(buf);
  }
  MPI_Finalize();
  return 0;
}
