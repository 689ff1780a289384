// The floor: the least a launcher can do to start a program with exact ids, groups and an
// ambient capability. clone(CLONE_VM|CLONE_VFORK), the same credential drop as native/child.cc
// (setgroups, setresgid, keepcaps, setresuid, capset, ambient raise) by raw system calls,
// execve, then wait. No signal reset, no verify, no report pipe, one stack mapped once: what
// capspawn does beyond this is its own overhead.
//
// usage: floor MEM_MIB WARMUP ITERATIONS UID GID GROUP CAP -- PROGRAM [ARG...]
// Holds MEM_MIB of touched memory, runs WARMUP then ITERATIONS spawn-and-waits, and prints
// one JSON line: {"rssMiB":..,"samples":[ms,...]} (the program's own output comes before it).

#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STACK_SIZE (64 * 1024)

struct plan {
  uid_t uid;
  gid_t gid;
  gid_t group;
  int cap;
  char **argv;
  char **envp;
};

static int child_main(void *raw) {
  const struct plan *p = raw;
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {{0}};
  data[p->cap / 32].permitted = data[p->cap / 32].inheritable = data[p->cap / 32].effective =
      1U << (p->cap % 32);
  if (syscall(SYS_setgroups, 1, &p->group) != 0) syscall(SYS_exit_group, 120);
  if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) != 0) syscall(SYS_exit_group, 121);
  if (syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) syscall(SYS_exit_group, 122);
  if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) != 0) syscall(SYS_exit_group, 123);
  if (syscall(SYS_capset, &header, data) != 0) syscall(SYS_exit_group, 124);
  if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, p->cap, 0, 0) != 0)
    syscall(SYS_exit_group, 125);
  syscall(SYS_execve, p->argv[0], p->argv, p->envp);
  syscall(SYS_exit_group, 127);
  return 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  if (f) fclose(f);
  return kib;
}

int main(int argc, char **argv) {
  if (argc < 10 || strcmp(argv[8], "--") != 0) {
    fprintf(stderr, "usage: floor MEM_MIB WARMUP ITERATIONS UID GID GROUP CAP -- PROGRAM [ARG...]\n");
    return 2;
  }
  size_t mem = strtoull(argv[1], NULL, 10) << 20;
  int warmup = atoi(argv[2]);
  int iterations = atoi(argv[3]);
  static char *empty_env[] = {"PATH=/usr/bin:/bin", NULL};
  struct plan plan = {
      .uid = strtoul(argv[4], NULL, 10),
      .gid = strtoul(argv[5], NULL, 10),
      .group = strtoul(argv[6], NULL, 10),
      .cap = atoi(argv[7]),
      .argv = argv + 9,
      .envp = empty_env,
  };

  // Touched, so it is resident: the parent's size is what fork-based launchers pay for.
  char *held = NULL;
  if (mem > 0) {
    held = malloc(mem);
    if (held == NULL) return perror("malloc"), 1;
    for (size_t i = 0; i < mem; i += 4096) held[i] = (char)i | 1;
  }
  char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) return perror("mmap"), 1;
  double *samples = calloc(iterations > 0 ? iterations : 1, sizeof *samples);

  for (int i = -warmup; i < iterations; i++) {
    double start = now_ms();
    pid_t pid = clone(child_main, stack + STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
    if (pid < 0) return perror("clone"), 1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
      if (errno != EINTR) return perror("waitpid"), 1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "floor: child ended with status 0x%x\n", status);
      return 1;
    }
    if (i >= 0) samples[i] = now_ms() - start;
  }

  fflush(stdout);
  printf("{\"rssMiB\":%.1f,\"samples\":[", rss_kib() / 1024.0);
  for (int i = 0; i < iterations; i++) printf(i ? ",%.4f" : "%.4f", samples[i]);
  printf("]}\n");
  return held != NULL && held[4096] == 0;  // keeps the memory live to the end
}
