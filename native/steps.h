// Step names, shared with lib/steps.ts (test/steps.test.ts checks that both lists match).
// The order is the order of the launch: parent-side preparation, then the child procedure.
#pragma once

#define CAPSPAWN_STEPS(X)                                             \
  X(RESOLVE, "resolve")       /* parent: NSS lookups */               \
  X(PIPE2, "pipe2")           /* parent: report pipe, stdio pipes */  \
  X(SOCKETPAIR, "socketpair") /* parent: stdio slots above 2 */       \
  X(OPEN, "open")             /* parent: /dev/null for 'ignore' */    \
  X(OPENPT, "openpt")         /* parent: the guest's pty pair */      \
  X(FCNTL, "fcntl")           /* parent: moving fds above the plan */ \
  X(MMAP, "mmap")             /* parent: the child's stack */         \
  X(CLONE, "clone")                                                   \
  X(SIGACTION, "sigaction") /* child from here on */                  \
  X(CGROUP, "cgroup")                                                 \
  X(SETSID, "setsid")                                                 \
  X(DUP2, "dup2")                                                     \
  X(TIOCSCTTY, "tiocsctty")                                           \
  X(SETNS, "setns")                                                   \
  X(PRLIMIT, "prlimit")                                               \
  X(OOM_SCORE_ADJ, "oom_score_adj")                                   \
  X(SETPRIORITY, "setpriority")                                       \
  X(SETGROUPS, "setgroups")                                           \
  X(SETRESGID, "setresgid")                                           \
  X(CAPBSET_DROP, "capbset_drop")                                     \
  X(SECUREBITS, "securebits")                                         \
  X(KEEPCAPS, "keepcaps")                                             \
  X(SETRESUID, "setresuid")                                           \
  X(CAPSET, "capset")                                                 \
  X(AMBIENT_CLEAR, "ambient_clear")                                   \
  X(AMBIENT_RAISE, "ambient_raise")                                   \
  X(NO_NEW_PRIVS, "no_new_privs")                                     \
  X(CHDIR, "chdir")                                                   \
  X(PDEATHSIG, "pdeathsig")                                           \
  X(GETPPID, "getppid")                                               \
  X(VERIFY, "verify")                                                 \
  X(CLOSE_RANGE, "close_range")                                       \
  X(FD_WALK, "fd_walk") /* before 5.11: /proc/self/fd */              \
  X(SIGPROCMASK, "sigprocmask")                                       \
  X(PRIVILEGED_PROGRAM, "privileged_program")                         \
  X(EXECVE, "execve")

enum Step : int {
#define CAPSPAWN_STEP_ENUM(id, name) STEP_##id,
  CAPSPAWN_STEPS(CAPSPAWN_STEP_ENUM)
#undef CAPSPAWN_STEP_ENUM
      STEP_COUNT
};

// What the verify step found different from the plan (the `detail` of a verify failure).
#define CAPSPAWN_VERIFY_ITEMS(X)    \
  X(UIDS, "uids")                   \
  X(GIDS, "gids")                   \
  X(GROUPS, "groups")               \
  X(CAPS, "capabilities")           \
  X(AMBIENT, "ambient")             \
  X(BOUNDING, "bounding")           \
  X(NO_NEW_PRIVS, "no_new_privs")   \
  X(SECUREBITS, "securebits")       \
  X(PDEATHSIG, "pdeathsig")         \
  X(CGROUP, "cgroup")               \
  X(NETNS, "netns")                 \
  X(RLIMITS, "rlimits")             \
  X(OOM_SCORE_ADJ, "oom_score_adj") \
  X(NICE, "nice")

enum VerifyItem : int {
#define CAPSPAWN_VERIFY_ENUM(id, name) VERIFY_##id,
  CAPSPAWN_VERIFY_ITEMS(CAPSPAWN_VERIFY_ENUM)
#undef CAPSPAWN_VERIFY_ENUM
      VERIFY_COUNT
};
