// The parent side of a launch: prepare fds and the child's stack, clone, read the report.
// Runs on a libuv worker thread.
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

// How one stdio slot of the child is filled. Exported by name as `stdioKinds` (addon.cc);
// lib/launch-plan.ts's STDIO_KINDS must match (test/steps.test.ts).
enum StdioKind : int {
  STDIO_CLOSED = 0,           // the slot is closed in the child
  STDIO_FD = 1,               // a copy of the parent's fd
  STDIO_DEVNULL = 2,          // /dev/null, read-write
  STDIO_PIPE_TO_CHILD = 3,    // a pipe the child reads and the parent writes
  STDIO_PIPE_FROM_CHILD = 4,  // a pipe the child writes and the parent reads
  STDIO_SOCKETPAIR = 5,       // a stream socket pair, for slots above 2
  STDIO_TERMINAL = 6,         // the slave of the guest's own pty; the parent keeps the master
};

struct StdioSlot {
  StdioKind kind;
  int fd;
};

// The flat plan from lib/, copied into C++ memory on the JS thread.
struct LaunchInput {
  std::string argv_block;  // NUL-terminated strings, back to back
  std::string env_block;
  std::string candidates_block;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  uint32_t caps[2] = {0, 0};
  int cap_last_cap = 0;
  bool limit_bounding_set = false;
  bool no_root = false;
  bool no_new_privs = false;
  bool refuse_setid = false;
  bool refuse_file_caps = false;
  bool new_session = false;
  // A pty of the guest's own (stdio slots of kind STDIO_TERMINAL): its first window size.
  int terminal_cols = 80;
  int terminal_rows = 24;
  int umask = -1;
  bool has_cwd = false;
  std::string cwd;
  int pdeath_signal = 0;
  std::vector<StdioSlot> stdio;
  // Placement.
  bool has_cgroup = false;
  std::string cgroup_procs;  // the cgroup's cgroup.procs file
  std::string cgroup_line;   // "0::/path\n"
  bool has_netns = false;
  std::string netns_path;  // empty: use netns_fd
  int netns_fd = -1;
  std::vector<uint64_t> rlimits;  // (resource, soft, hard) triples
  bool has_oom_score_adj = false;
  std::string oom_score_adj;
  bool has_nice = false;
  int nice = 0;
  int test_signal_before_verify = 0;
  bool test_walk_fds = false;
};

struct LaunchResult {
  bool ok = false;
  pid_t pid = -1;
  int pidfd = -1;
  std::vector<int> parent_fds;  // per slot: the parent's end of a pipe, or -1
  // On failure:
  int step = 0;
  int err = 0;
  int detail = 0;
  int signal = 0;  // the child died of this signal before it reached execve
  // privileged_program: what the refused file carries, as the child reported it.
  uint32_t program[8] = {};  // mode, uid, gid, fcaps magic, permitted x2, inheritable x2
};

// Whether children share memory with clone(CLONE_VM), probed once; false means the launch
// falls back to a fork-like clone (some user-mode emulators do not share memory).
bool capspawn_clone_shares_memory();

// CAPSPAWN_CLONE_MODE=fork (the fork() fallback), as the addon's first load read it from
// process.env: read once there, never with getenv on a pool thread, which would race with
// process.env writes. Later calls change nothing.
void capspawn_read_clone_mode(bool fork);

LaunchResult capspawn_launch(const LaunchInput& input);

// For a launch whose answer can never reach JS (its environment ended meanwhile): kills and
// reaps the child and closes every descriptor the result holds.
void capspawn_abandon(const LaunchResult& result);
