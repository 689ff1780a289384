// The child procedure. It runs on its own stack, in the parent's memory (CLONE_VM) while the
// parent thread is suspended (CLONE_VFORK). Its contract, as for libuv's
// uv__process_child_init and Go's forkAndExecInChild1:
//   - only raw system calls: no malloc, no locks, no stdio, no C++ containers or exceptions,
//     and no glibc set*id wrappers (they signal the parent's other threads to change their
//     credentials too, see nptl/nptl_setxid.c);
//   - it reads the plan and writes only `shared` and its own stack;
//   - every failure reports {step, errno, detail} on the close-on-exec pipe and _exit(127)s;
//   - errno is safe to use: the child shares the launching thread's TLS (no CLONE_SETTLS), so
//     it writes that thread's errno, and that thread is suspended (CLONE_VFORK) until execve
//     or exit and reads errno only after clone returns; no other thread uses that TLS;
//   - it starts with every signal blocked (the parent's raw rt_sigprocmask, 32 and 33 too) and
//     resets every disposition first; a signal pending when the mask is cleared just before
//     execve is then acted on by its default action: a fatal one kills the child before
//     execve, nothing of the program ran (reported killed at step sigprocmask, or, once the
//     step is execve, as a guest that exited by that signal); SIGCHLD-like ones are
//     discarded; a stop signal stops it until SIGCONT. No parent handler ever runs.
// The steps follow the order in docs/design.md; each step's comment says why it is there.

// Checked for these architectures only: the kernel's sigaction layout, the 8-byte sigset, and
// the system calls used below (arm64 has dup3 but no dup2; close_range and pidfd_send_signal
// share their numbers on both; clone is glibc's wrapper, which knows each argument order).
// Another architecture builds only once those are checked for it.
#if !defined(__x86_64__) && !defined(__aarch64__)
#error "capspawn's child procedure is checked for x86_64 and aarch64 only; see native/child.cc"
#endif

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/prctl.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "steps.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace {

// The kernel's struct sigaction for rt_sigaction on x86_64 and arm64: both define SA_RESTORER,
// so both have sa_restorer before the mask (include/linux/signal_types.h).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};
constexpr int kKernelSigsetSize = 8;
constexpr int kMaxSignal = 64;

// One record of getdents64(2) (struct linux_dirent64).
struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

struct Child {
  const ChildPlan* plan;
  ChildShared* shared;

  void enter(Step step) const { shared->step = step; }

  [[noreturn]] void fail(int err, int detail = 0) const {
    ChildReport report = {};
    report.step = shared->step;
    report.err = err;
    report.detail = detail;
    while (syscall(SYS_write, plan->report_fd, &report, sizeof report) < 0 && errno == EINTR) {
    }
    syscall(SYS_exit_group, 127);
    __builtin_unreachable();
  }

  [[noreturn]] void fail_with(ChildReport report) const {
    report.step = shared->step;
    while (syscall(SYS_write, plan->report_fd, &report, sizeof report) < 0 && errno == EINTR) {
    }
    syscall(SYS_exit_group, 127);
    __builtin_unreachable();
  }

  bool wants_cap(int cap) const { return (plan->caps[cap / 32] >> (cap % 32)) & 1U; }
};

bool verify_credentials(const Child& c, long securebits, int* item, int* err);
// What a program file carries that execve would honour; true fills `report` (refused, or a
// system error in `report->err`).
bool refuse_program(const Child& c, long fd, ChildReport* report);

// The /proc/self files verify reads, opened before prlimit: a small RLIMIT_NOFILE leaves the
// child no free descriptor number below it (its table is a copy of the daemon's), while a
// descriptor already open stays usable. So is /proc/self/fd for the walk before 5.11.
struct ProcFiles {
  long cgroup = -1;
  long oom_score_adj = -1;
  long fd_dir = -1;
};

bool verify_placement(const Child& c, const ProcFiles& files, int* item, int* err);
int mark_open_fds_cloexec(long dir, int from);

size_t length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  return n;
}

// dup2(2) from dup3, as glibc does it, on every architecture: arm64 has no dup2 system call.
// dup3 fails with EINVAL where dup2 does nothing (the same fd as source and target); dup2 then
// only checks that the fd is open and leaves its close-on-exec flag as it is.
long dup2_raw(int from, int to) {
  if (from == to) return syscall(SYS_fcntl, from, F_GETFD) < 0 ? -1 : to;
  return syscall(SYS_dup3, from, to, 0);
}

// Reads a whole /proc/self file, opened earlier, from its start into buf (NUL-terminated);
// -errno on failure.
long read_proc_file(long fd, char* buf, int size) {
  long total = 0;
  for (;;) {
    long n = syscall(SYS_pread64, fd, buf + total, size - 1 - total, total);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    total += n;
    if (total >= size - 1) break;
  }
  buf[total] = '\0';
  return total;
}

// Whether `line` (ending in a newline) is one of the lines of `text`.
bool has_line(const char* text, const char* line) {
  size_t n = length(line);
  for (const char* h = text; *h != '\0'; h++) {
    if (h != text && h[-1] != '\n') continue;
    size_t i = 0;
    while (i < n && h[i] == line[i]) i++;
    if (i == n) return true;
  }
  return false;
}

}  // namespace

int capspawn_child_main(void* raw) {
  const ChildArgs* args = static_cast<const ChildArgs*>(raw);
  const ChildPlan* p = args->plan;
  const Child c = {p, args->shared};
  ProcFiles files;
  const ChildRlimit* nofile = nullptr;  // set late, after the program is opened

  // Signals are all blocked (the parent blocked them before clone). Reset every handler and
  // every ignored signal to the default: a parent handler must never run here (it would run
  // on the parent's memory), and SIG_IGN survives execve (Node ignores SIGPIPE).
  c.enter(STEP_SIGACTION);
  KernelSigaction dfl = {SIG_DFL, 0, nullptr, 0};
  for (int sig = 1; sig <= kMaxSignal; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (syscall(SYS_rt_sigaction, sig, &dfl, nullptr, kKernelSigsetSize) != 0) c.fail(errno, sig);
  }

  // First, so everything the child does and every process the guest forks is accounted in the
  // cgroup from the start (cgroup v2: writing 0 to cgroup.procs moves the writer).
  if (p->cgroup_procs_fd >= 0) {
    c.enter(STEP_CGROUP);
    while (syscall(SYS_write, p->cgroup_procs_fd, "0", 1) < 0) {
      if (errno != EINTR) c.fail(errno);
    }
    files.cgroup = syscall(SYS_openat, AT_FDCWD, "/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    if (files.cgroup < 0) c.fail(errno);
  }

  if (p->new_session) {
    c.enter(STEP_SETSID);
    if (syscall(SYS_setsid) < 0) c.fail(errno);
  }

  // dup2 clears close-on-exec on the new fd; the sources stay close-on-exec.
  c.enter(STEP_DUP2);
  for (int slot = 0; slot < p->nstdio; slot++) {
    if (p->stdio_src[slot] < 0) {
      syscall(SYS_close, slot);  // EBADF: it was not open, which is what was asked
    } else if (dup2_raw(p->stdio_src[slot], slot) < 0) {
      c.fail(errno, slot);
    }
  }
  // A session leader without a controlling terminal takes fd 0, its own pty, as one; no
  // capability is needed for a terminal no other session holds (tty_ioctl(4)).
  if (p->controlling_terminal) {
    c.enter(STEP_TIOCSCTTY);
    if (syscall(SYS_ioctl, 0, TIOCSCTTY, 0) != 0) c.fail(errno);
  }
  if (p->umask >= 0) syscall(SYS_umask, p->umask);

  // Placement needs CAP_SYS_ADMIN (setns), CAP_SYS_RESOURCE (raising limits, lowering
  // oom_score_adj) and CAP_SYS_NICE (lowering nice), all gone after the uid change.
  if (p->netns_fd >= 0) {
    c.enter(STEP_SETNS);
    if (syscall(SYS_setns, p->netns_fd, CLONE_NEWNET) != 0) c.fail(errno);
  }
  if (p->oom_score_adj != nullptr) {
    c.enter(STEP_OOM_SCORE_ADJ);  // opened before prlimit (ProcFiles), written after
    files.oom_score_adj = syscall(SYS_openat, AT_FDCWD, "/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    if (files.oom_score_adj < 0) c.fail(errno);
  }
  if (p->walk_fds) {
    c.enter(STEP_FD_WALK);  // opened before prlimit (ProcFiles), read after verify
    files.fd_dir = syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (files.fd_dir < 0) c.fail(errno);
    // Only a proc file system lists this process's descriptors. Where /proc is not one (not
    // mounted, leaving an empty directory or a copy; a VM whose root is another machine's over
    // 9p, which shows that machine's procfs and its own processes' fds) the list is of other
    // numbers, and the open ones would cross execve: ENOENT, as if /proc were missing.
    struct statfs fs;
    if (syscall(SYS_fstatfs, files.fd_dir, &fs) != 0) c.fail(errno);
    if (fs.f_type != PROC_SUPER_MAGIC) c.fail(ENOENT);
  }
  if (p->nrlimits > 0) {
    c.enter(STEP_PRLIMIT);
    for (int i = 0; i < p->nrlimits; i++) {
      const ChildRlimit& r = p->rlimits[i];
      struct rlimit64 value = {r.soft, r.hard};
      if (r.resource == RLIMIT_NOFILE) {
        // The program's descriptors are opened later, as the guest: until then the soft limit
        // stays at the larger hard limit (raising it needs CAP_SYS_RESOURCE, held now), and the
        // asked values, a lowering only, are set once they are open.
        struct rlimit64 now = {};
        if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &now) != 0) c.fail(errno, r.resource);
        value.rlim_cur = value.rlim_max = r.hard > now.rlim_max ? r.hard : now.rlim_max;
        nofile = &r;
      }
      if (syscall(SYS_prlimit64, 0, r.resource, &value, nullptr) != 0) c.fail(errno, r.resource);
    }
  }
  if (p->oom_score_adj != nullptr) {
    c.enter(STEP_OOM_SCORE_ADJ);
    if (syscall(SYS_write, files.oom_score_adj, p->oom_score_adj, length(p->oom_score_adj)) < 0)
      c.fail(errno);
  }
  if (p->set_nice) {
    c.enter(STEP_SETPRIORITY);
    if (syscall(SYS_setpriority, PRIO_PROCESS, 0, p->nice) != 0) c.fail(errno);
  }

  // Groups before gids, gids before uids: each needs CAP_SETGID, which the uid change drops.
  c.enter(STEP_SETGROUPS);
  if (syscall(SYS_setgroups, p->ngroups, p->groups) != 0) c.fail(errno);
  c.enter(STEP_SETRESGID);
  if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) != 0) c.fail(errno);

  // Bounding-set drops and securebits need CAP_SETPCAP, so they come before the uid change.
  if (p->limit_bounding_set) {
    c.enter(STEP_CAPBSET_DROP);
    for (int cap = 0; cap <= p->cap_last_cap; cap++) {
      if (c.wants_cap(cap)) continue;
      if (syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) c.fail(errno, cap);
    }
  }
  long securebits = -1;  // what verify expects, when set here
  if (p->no_root) {
    // Without SECBIT_NOROOT, execve gives uid 0 the whole bounding set back (capabilities(7)).
    // Added to the bits this process has, never in their place: a locked bit cannot be cleared
    // (EPERM), and an unlocked one (SECBIT_NO_CAP_AMBIENT_RAISE, ...) reaches a uid 0 guest as it
    // reaches any other.
    c.enter(STEP_SECUREBITS);
    securebits = syscall(SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (securebits < 0) c.fail(errno);
    securebits |= SECBIT_NOROOT | SECBIT_NOROOT_LOCKED;
    if (syscall(SYS_prctl, PR_SET_SECUREBITS, securebits, 0, 0, 0) != 0) c.fail(errno);
  }

  // Leaving uid 0 clears the permitted set unless KEEPCAPS is on (capabilities(7), "Effect of
  // user ID changes on capabilities"), and it always clears the ambient set.
  c.enter(STEP_KEEPCAPS);
  if (syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) c.fail(errno);
  c.enter(STEP_SETRESUID);
  if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) != 0) c.fail(errno);

  // Exactly the requested set, in every set. An ambient bit needs it permitted and inheritable.
  c.enter(STEP_CAPSET);
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {
      {p->caps[0], p->caps[0], p->caps[0]},
      {p->caps[1], p->caps[1], p->caps[1]},
  };
  if (syscall(SYS_capset, &header, data) != 0) c.fail(errno);

  c.enter(STEP_AMBIENT_CLEAR);
  if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) c.fail(errno);
  c.enter(STEP_AMBIENT_RAISE);
  for (int cap = 0; cap <= p->cap_last_cap; cap++) {
    if (!c.wants_cap(cap)) continue;
    if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) c.fail(errno, cap);
  }

  if (p->no_new_privs) {
    c.enter(STEP_NO_NEW_PRIVS);
    if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) c.fail(errno);
  }

  // As the target user, so a directory it may not enter fails here and not later.
  if (p->cwd != nullptr) {
    c.enter(STEP_CHDIR);
    if (syscall(SYS_chdir, p->cwd) != 0) c.fail(errno);
  }

  // Last of the credential steps: any credential change clears the parent-death signal. If the
  // parent already died, the signal will never come, so check that it is still the parent.
  if (p->pdeath_signal != 0) {
    c.enter(STEP_PDEATHSIG);
    if (syscall(SYS_prctl, PR_SET_PDEATHSIG, p->pdeath_signal, 0, 0, 0) != 0) c.fail(errno);
    c.enter(STEP_GETPPID);
    if (syscall(SYS_getppid) != p->parent_pid) c.fail(ESRCH);
  }

  // The program is opened as the guest, so search permission is the guest's, and the file that
  // is checked is the file that runs (execveat on the descriptor). Every candidate is opened
  // now, before the guest's RLIMIT_NOFILE; the errors are the search's, handled below in order.
  c.enter(STEP_PRIVILEGED_PROGRAM);
  for (int i = 0; i < p->ncandidates; i++) {
    long fd = syscall(SYS_openat, AT_FDCWD, p->candidates[i], O_PATH | O_CLOEXEC);
    p->candidate_fds[i] = fd < 0 ? -errno : static_cast<int>(fd);
  }
  if (nofile != nullptr) {
    c.enter(STEP_PRLIMIT);
    struct rlimit64 value = {nofile->soft, nofile->hard};
    if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &value, nullptr) != 0) c.fail(errno, RLIMIT_NOFILE);
  }

  // Read everything back: the kernel must show exactly the plan, or nothing runs.
  c.enter(STEP_VERIFY);
  if (p->test_signal_before_verify != 0) syscall(SYS_kill, syscall(SYS_getpid), p->test_signal_before_verify);
  int item = 0;
  int err = 0;
  if (!verify_credentials(c, securebits, &item, &err)) c.fail(err, item);
  if (!verify_placement(c, files, &item, &err)) c.fail(err, item);

  // Nothing but the stdio plan crosses execve. Close-on-exec rather than close: the report
  // pipe must stay open until execve succeeds.
  // Kernels before 5.11 have no CLOSE_RANGE_CLOEXEC (the parent probed): mark the fds that
  // are open, as /proc/self/fd lists them. Trying every number up to RLIMIT_NOFILE would be up
  // to a million calls and miss fds above a lowered soft limit. Without /proc this fails
  // (above): an fd that may be open must not cross execve.
  if (p->walk_fds) {
    c.enter(STEP_FD_WALK);
    int walk_err = mark_open_fds_cloexec(files.fd_dir, p->nstdio);
    if (walk_err != 0) c.fail(walk_err);
  } else {
    c.enter(STEP_CLOSE_RANGE);
    if (syscall(SYS_close_range, p->nstdio, ~0U, CLOSE_RANGE_CLOEXEC) != 0) c.fail(errno);
  }

  c.enter(STEP_SIGPROCMASK);
  uint64_t empty = 0;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, kKernelSigsetSize) != 0) c.fail(errno);

  // Like execvp's search, without its /bin/sh retry on ENOEXEC: ENOENT-like errors move on to
  // the next candidate, EACCES is remembered, anything else stops the search.
  c.enter(STEP_EXECVE);
  int eacces_at = -1;
  int last_err = ENOENT;
  for (int i = 0; i < p->ncandidates; i++) {
    long fd = p->candidate_fds[i];
    if (fd >= 0) {
      ChildReport report = {};
      report.detail = i;
      c.enter(STEP_PRIVILEGED_PROGRAM);
      if (refuse_program(c, fd, &report)) c.fail_with(report);
      c.enter(STEP_EXECVE);
      syscall(SYS_execveat, fd, "", p->argv, p->envp, AT_EMPTY_PATH);
      last_err = errno;
      // A script from a close-on-exec descriptor: its interpreter could not open /dev/fd/N, so
      // the kernel refuses (ENOENT). It runs by its path instead; the window this leaves is
      // described in docs/guides/security.md.
      if (last_err == ENOENT) {
        syscall(SYS_execve, p->candidates[i], p->argv, p->envp);
        last_err = errno;
      }
    } else {
      last_err = static_cast<int>(-fd);
    }
    switch (last_err) {
      case EACCES:
        if (eacces_at < 0) eacces_at = i;
        continue;
      case ENOENT:
      case ENOTDIR:
      case ESTALE:
      case ENODEV:
      case ETIMEDOUT:
        continue;
      default:
        c.fail(last_err, i);
    }
  }
  if (eacces_at >= 0) c.fail(EACCES, eacces_at);
  c.fail(last_err, p->ncandidates - 1);
}

namespace {

// Marks every open fd >= `from` close-on-exec, reading /proc/self/fd (open as `dir`) with
// getdents64 into a buffer on this stack (no opendir: it mallocs). 0, or the errno that
// stopped it. The listing is made at each read, so fds opened since `dir` was are in it.
int mark_open_fds_cloexec(long dir, int from) {
  alignas(8) char buf[2048];
  int err = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0) err = errno;
      break;
    }
    for (long off = 0; off < n;) {
      const LinuxDirent64* entry = reinterpret_cast<const LinuxDirent64*>(buf + off);
      off += entry->d_reclen;
      long fd = 0;
      const char* digit = entry->d_name;
      for (; *digit >= '0' && *digit <= '9'; digit++) fd = fd * 10 + (*digit - '0');
      if (digit == entry->d_name || *digit != '\0' || fd < from || fd == dir) continue;  // ".", ".."
      // EBADF: closed since the directory was read, which is what close-on-exec is for.
      if (syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC) != 0 && errno != EBADF) err = errno;
    }
    if (err != 0) break;
  }
  syscall(SYS_close, dir);
  return err;
}

// The kernel's rules at execve (fs/exec.c bprm_fill_uid, security/commoncap.c get_file_caps):
// nothing on a nosuid mount; a set-user-ID bit whose owner is not the guest's uid and a
// set-group-ID bit (with group x) whose group is not its gid change the ids, unless
// no_new_privs; a security.capability attribute always counts (it clears the ambient set even
// under no_new_privs). lib/ decides which of these refuse (refuse_setid, refuse_file_caps).
bool refuse_program(const Child& c, long fd, ChildReport* report) {
  const ChildPlan* p = c.plan;
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) != 0) return report->err = errno, true;
  if (!S_ISREG(st.st_mode)) return false;  // execveat refuses it (EACCES)
  struct statfs fs;
  if (syscall(SYS_fstatfs, fd, &fs) != 0) return report->err = errno, true;
  if (fs.f_flags & ST_NOSUID) return false;
  report->mode = st.st_mode;
  report->uid = st.st_uid;
  report->gid = st.st_gid;
  bool setid = ((st.st_mode & S_ISUID) && st.st_uid != p->uid) ||
               ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && st.st_gid != p->gid);
  // An O_PATH descriptor has no f*xattr; its /proc/self/fd link names the same file.
  char path[32] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  for (long v = fd; n == 0 || v > 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  int at = 14;
  while (n > 0) path[at++] = digits[--n];
  path[at] = '\0';
  uint32_t caps[6] = {};  // struct vfs_ns_cap_data: magic_etc, {permitted, inheritable} x 2, rootid
  long size = syscall(SYS_getxattr, path, "security.capability", caps, sizeof caps);
  if (size < 0 && errno != ENODATA && errno != EOPNOTSUPP) return report->err = errno, true;
  bool file_caps = size >= 4 && (caps[0] & 0xFF000000U) != 0;  // VFS_CAP_REVISION_MASK
  if (file_caps) {
    report->fcaps_magic = caps[0];
    report->fcaps_permitted[0] = caps[1];
    report->fcaps_inheritable[0] = caps[2];
    if (size >= 20) {
      report->fcaps_permitted[1] = caps[3];
      report->fcaps_inheritable[1] = caps[4];
    }
  }
  return (setid && p->refuse_setid) || (file_caps && p->refuse_file_caps);
}

bool verify_credentials(const Child& c, long securebits, int* item, int* err) {
  const ChildPlan* p = c.plan;
  *err = 0;

  uid_t ruid, euid, suid;
  *item = VERIFY_UIDS;
  if (syscall(SYS_getresuid, &ruid, &euid, &suid) != 0) return *err = errno, false;
  // setfsuid with an invalid id changes nothing and returns the current fsuid.
  long fsuid = syscall(SYS_setfsuid, static_cast<uid_t>(-1));
  if (ruid != p->uid || euid != p->uid || suid != p->uid || fsuid != static_cast<long>(p->uid)) return false;

  gid_t rgid, egid, sgid;
  *item = VERIFY_GIDS;
  if (syscall(SYS_getresgid, &rgid, &egid, &sgid) != 0) return *err = errno, false;
  long fsgid = syscall(SYS_setfsgid, static_cast<gid_t>(-1));
  if (rgid != p->gid || egid != p->gid || sgid != p->gid || fsgid != static_cast<long>(p->gid)) return false;

  *item = VERIFY_GROUPS;
  long n = syscall(SYS_getgroups, p->groups_readback_len, p->groups_readback);
  if (n < 0) return *err = errno, false;  // EINVAL: more groups than asked for
  if (n != p->ngroups) return false;
  for (int i = 0; i < p->ngroups; i++)
    if (p->groups_readback[i] != p->groups[i]) return false;

  *item = VERIFY_CAPS;
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return *err = errno, false;
  for (int w = 0; w < 2; w++) {
    if (data[w].effective != p->caps[w] || data[w].permitted != p->caps[w] ||
        data[w].inheritable != p->caps[w])
      return false;
  }

  *item = VERIFY_AMBIENT;
  for (int cap = 0; cap <= p->cap_last_cap; cap++) {
    long set = syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
    if (set < 0) return *err = errno, false;
    if ((set == 1) != c.wants_cap(cap)) return false;
  }

  if (p->limit_bounding_set) {
    *item = VERIFY_BOUNDING;
    for (int cap = 0; cap <= p->cap_last_cap; cap++) {
      long set = syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0);
      if (set < 0) return *err = errno, false;
      if ((set == 1) != c.wants_cap(cap)) return false;
    }
  }

  if (p->no_new_privs) {
    *item = VERIFY_NO_NEW_PRIVS;
    if (syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return false;
  }

  if (securebits >= 0) {
    // Exactly the bits set above; SECBIT_KEEP_CAPS is the keepcaps step's, and execve clears it.
    *item = VERIFY_SECUREBITS;
    long bits = syscall(SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (bits < 0) return *err = errno, false;
    if ((bits | SECBIT_KEEP_CAPS) != (securebits | SECBIT_KEEP_CAPS)) return false;
  }

  if (p->pdeath_signal != 0) {
    *item = VERIFY_PDEATHSIG;
    int sig = 0;
    if (syscall(SYS_prctl, PR_GET_PDEATHSIG, &sig, 0, 0, 0) != 0) return *err = errno, false;
    if (sig != p->pdeath_signal) return false;
  }
  return true;
}

bool verify_placement(const Child& c, const ProcFiles& files, int* item, int* err) {
  const ChildPlan* p = c.plan;
  *err = 0;

  if (p->cgroup_procs_fd >= 0) {
    *item = VERIFY_CGROUP;
    long n = read_proc_file(files.cgroup, p->readback, p->readback_len);
    if (n < 0) return *err = static_cast<int>(-n), false;
    if (!has_line(p->readback, p->cgroup_line)) return false;
  }

  if (p->netns_fd >= 0) {
    *item = VERIFY_NETNS;
    struct stat st;  // glibc's struct stat is the kernel's on x86_64 and arm64
    if (syscall(SYS_newfstatat, AT_FDCWD, "/proc/self/ns/net", &st, 0) != 0) return *err = errno, false;
    if (st.st_dev != p->netns_dev || st.st_ino != p->netns_ino) return false;
  }

  *item = VERIFY_RLIMITS;
  for (int i = 0; i < p->nrlimits; i++) {
    const ChildRlimit& r = p->rlimits[i];
    struct rlimit64 value = {};
    if (syscall(SYS_prlimit64, 0, r.resource, nullptr, &value) != 0) return *err = errno, false;
    if (value.rlim_cur != r.soft || value.rlim_max != r.hard) return false;
  }

  if (p->oom_score_adj != nullptr) {
    *item = VERIFY_OOM_SCORE_ADJ;
    long n = read_proc_file(files.oom_score_adj, p->readback, p->readback_len);
    if (n < 0) return *err = static_cast<int>(-n), false;
    size_t want = length(p->oom_score_adj);
    if (static_cast<size_t>(n) != want + 1 || p->readback[want] != '\n') return false;
    for (size_t i = 0; i < want; i++)
      if (p->readback[i] != p->oom_score_adj[i]) return false;
  }

  if (p->set_nice) {
    *item = VERIFY_NICE;
    // The raw syscall returns 20 - nice, so that no valid result is negative.
    errno = 0;
    long prio = syscall(SYS_getpriority, PRIO_PROCESS, 0);
    if (prio < 0) return *err = errno, false;
    if (20 - prio != p->nice) return false;
  }
  return true;
}

}  // namespace

// On a range no fd can be in, close_range does nothing and returns 0; kernels before 5.11
// refuse the flag (EINVAL), before 5.9 the call (ENOSYS).
bool capspawn_close_range_cloexec() {
  static const bool supported = syscall(SYS_close_range, ~0U, ~0U, CLOSE_RANGE_CLOEXEC) == 0;
  return supported;
}
