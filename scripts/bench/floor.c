/* floor: the physical floor of a sweep's output, writing its bytes into a new file.
 *
 * The peer of the dispatch benchmark against the disk: a sweep of a cheap kernel can finish no
 * sooner than its output's bytes reach a new file, so sweep's whole run is compared with this
 * program writing as many bytes with as many threads as sweep has workers. Each thread pwrites
 * its contiguous share in 1 MiB blocks (the size of a worker's block of rows) from its own
 * buffer of non-zero bytes; no fsync, as sweep does none. Usage: floor PATH BYTES THREADS; the
 * file is created (replaced if it exists), and the harness times the whole process. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kBlock = 1 << 20 };

struct share {
  int fd;
  long long first, end; /* bytes [first, end) of the file */
  int failed;
};

static void* write_share(void* arg) {
  struct share* s = arg;
  char* block = malloc(kBlock);
  if (!block) {
    s->failed = 1;
    return NULL;
  }
  memset(block, 0x3f, kBlock);
  for (long long at = s->first; at < s->end; at += kBlock) {
    const size_t n = (size_t)(s->end - at < kBlock ? s->end - at : kBlock);
    if (pwrite(s->fd, block, n, at) != (ssize_t)n) {
      s->failed = 1;
      break;
    }
  }
  free(block);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: floor PATH BYTES THREADS\n");
    return 2;
  }
  const long long bytes = atoll(argv[2]);
  const int threads = atoi(argv[3]);
  if (bytes < 0 || threads < 1 || threads > 1024) return 2;
  const int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  struct share shares[1024];
  pthread_t ids[1024];
  /* Shares of whole blocks, the last thread taking the remainder. */
  const long long blocks = (bytes + kBlock - 1) / kBlock;
  int failed = 0;
  for (int t = 0; t < threads; ++t) {
    const long long first = blocks * t / threads * kBlock,
                    end = blocks * (t + 1) / threads * kBlock;
    shares[t] = (struct share){fd, first, end < bytes ? end : bytes, 0};
    if (pthread_create(&ids[t], NULL, write_share, &shares[t]) != 0) return 1;
  }
  for (int t = 0; t < threads; ++t) {
    pthread_join(ids[t], NULL);
    failed |= shares[t].failed;
  }
  if (close(fd) != 0 || failed) {
    perror("floor: write");
    return 1;
  }
  return 0;
}
