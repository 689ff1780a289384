// The child procedure: what runs between clone() and execve().
#pragma once

#include <stdint.h>
#include <sys/types.h>

// One resource limit to set (prlimit64).
struct ChildRlimit {
  int resource;
  uint64_t soft;
  uint64_t hard;
};

// Everything the child reads. The parent fills it in before clone() and does not touch it
// until the child has exec'd or exited; the child only reads it (and writes `shared`).
struct ChildPlan {
  // Program: execve is tried on each candidate in order (PATH search done by lib/).
  const char* const* candidates;
  int ncandidates;
  int* candidate_fds;     // ncandidates slots: each candidate's O_PATH fd, or -errno
  bool refuse_setid;      // refuse a set-uid/set-gid bit that would change the guest's ids
  bool refuse_file_caps;  // refuse a program with a security.capability attribute
  char* const* argv;
  char* const* envp;

  // Identity. `groups` is sorted ascending, as the kernel keeps it (groups_sort()).
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  int ngroups;
  gid_t* groups_readback;  // ngroups + 1 slots, for verify
  int groups_readback_len;

  // Capabilities: permitted = inheritable = effective = ambient = caps.
  uint32_t caps[2];
  int cap_last_cap;
  bool limit_bounding_set;  // drop every capability not in caps from the bounding set
  bool no_root;  // add SECBIT_NOROOT (locked) to the securebits: uid 0 targets keep only caps across execve
  bool no_new_privs;

  // Placement, set before the credential change (each needs a capability the change drops).
  int cgroup_procs_fd;      // -1: stay in this process's cgroup
  const char* cgroup_line;  // "0::/relative/path\n" as /proc/self/cgroup will show it
  int netns_fd;             // -1: stay in this network namespace
  uint64_t netns_dev, netns_ino;
  const ChildRlimit* rlimits;
  int nrlimits;
  const char* oom_score_adj;  // nullptr: inherit; else the decimal text
  bool set_nice;
  int nice;
  char* readback;  // scratch for reading /proc/self files in verify
  int readback_len;

  // Process.
  bool new_session;
  bool controlling_terminal;  // fd 0 is the guest's pty slave: make it the controlling tty
  int umask;                  // -1: inherit
  const char* cwd;            // nullptr: inherit
  int pdeath_signal;          // 0: none
  pid_t parent_pid;

  // stdio: slot i becomes a copy of stdio_src[i]; -1 closes slot i. Every source and
  // report_fd are above nstdio, so no dup2 overwrites an fd still to be used.
  const int* stdio_src;
  int nstdio;
  int report_fd;

  // Mark fds close-on-exec by walking /proc/self/fd: the kernel has no CLOSE_RANGE_CLOEXEC
  // (before 5.11), or the test hook asks for the walk.
  bool walk_fds;

  // Test hook (lib/launch-plan.ts testHooks): the child sends itself this signal as it enters the
  // verify step (0: none).
  int test_signal_before_verify;
};

// Written by the child, read by the parent after the child has exec'd or exited. It lives
// in a MAP_SHARED page so the parent sees it in the fork() fallback too.
struct ChildShared {
  volatile int32_t step;  // the step the child is at
};

// One record on the report pipe: the child failed at `step` with `err`. `detail` is the
// capability (capbset_drop, ambient_raise), the candidate index (execve, privileged_program), the stdio slot
// (dup2) or the VerifyItem (verify).
struct ChildReport {
  int32_t step;
  int32_t err;
  int32_t detail;
  // privileged_program: the file's st_mode, st_uid, st_gid, and its security.capability
  // (magic_etc, permitted and inheritable words; all 0 when it has none).
  uint32_t mode, uid, gid;
  uint32_t fcaps_magic;
  uint32_t fcaps_permitted[2];
  uint32_t fcaps_inheritable[2];
};

struct ChildArgs {
  const ChildPlan* plan;
  ChildShared* shared;
};

// Whether close_range(2) takes CLOSE_RANGE_CLOEXEC (Linux 5.11); probed once, in the parent.
bool capspawn_close_range_cloexec();

// clone() entry point. Never returns: execve()s or _exit(127)s after writing a report.
int capspawn_child_main(void* args);
