#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "child.h"
#include "pidfd.h"
#include "steps.h"

namespace {

constexpr size_t kStackSize = 64 * 1024;

// Owns one fd; closes it unless released.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// The shared page, a guard page, then the child's stack (which grows down towards the guard).
class ChildRegion {
 public:
  bool map() {
    if (base_ != nullptr) return true;
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_ = 2 * page_ + kStackSize;
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    if (mprotect(static_cast<char*>(p) + page_, page_, PROT_NONE) != 0) {
      munmap(p, size_);
      return false;
    }
    base_ = static_cast<char*>(p);
    return true;
  }
  ~ChildRegion() {
    if (base_ != nullptr) munmap(base_, size_);
  }
  ChildShared* shared() const { return reinterpret_cast<ChildShared*>(base_); }
  void* stack_top() const { return base_ + size_; }

 private:
  char* base_ = nullptr;
  size_t page_ = 0;
  size_t size_ = 0;
};

// Moves fd to the lowest free number >= floor, close-on-exec, closing the original.
bool move_above(Fd* fd, int floor) {
  if (fd->get() >= floor) return true;
  int moved = fcntl(fd->get(), F_DUPFD_CLOEXEC, floor);
  if (moved < 0) return false;
  fd->reset(moved);
  return true;
}

std::vector<char*> split_block(const std::string& block) {
  std::vector<char*> out;
  char* p = const_cast<char*>(block.data());
  char* end = p + block.size();
  while (p < end) {
    out.push_back(p);
    p += strlen(p) + 1;
  }
  out.push_back(nullptr);
  return out;
}

int reap(int pidfd, siginfo_t* info, int extra_flags = 0) {
  for (;;) {
    memset(info, 0, sizeof *info);
    if (syscall(SYS_waitid, P_PIDFD, pidfd, info, WEXITED | extra_flags, nullptr) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

int probe_child(void* flag) {
  *static_cast<volatile int*>(flag) = 1;
  syscall(SYS_exit_group, 0);
  return 0;
}

// The child shares this process's mm (CLONE_VM) until it execs, and its credential change marks
// that mm non-dumpable (commit_creds: set_dumpable(mm, suid_dumpable)): this process's
// /proc/<pid> would turn root's, its own user could no longer ptrace it, and it would never dump
// core. The flag is put back once no launch shares the mm any more, never earlier: while a
// child holding the guest's credentials is still in the mm, a dumpable mm would let the guest's
// user ptrace that child, and with it this process's memory. So the first of overlapping
// launches saves the flag, and the last one to get its mm back restores it.
class DumpableKeeper {
 public:
  void enter() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (sharing_++ == 0) saved_ = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  }
  void leave() {
    std::lock_guard<std::mutex> lock(mutex_);
    // SUID_DUMP_ROOT (2) cannot be set through prctl; a process that has it keeps what it gets.
    if (--sharing_ == 0 && (saved_ == SUID_DUMP_DISABLE || saved_ == SUID_DUMP_USER))
      prctl(PR_SET_DUMPABLE, saved_, 0, 0, 0);
  }

 private:
  static constexpr int SUID_DUMP_DISABLE = 0;
  static constexpr int SUID_DUMP_USER = 1;
  std::mutex mutex_;
  int sharing_ = 0;
  int saved_ = -1;
};

DumpableKeeper dumpable_keeper;

// Holds the mm as shared from before the clone until the clone returns (CLONE_VFORK: the child
// has exec'd or exited, so it no longer runs in this mm).
class SharedMm {
 public:
  explicit SharedMm(bool shared) : shared_(shared) {
    if (shared_) dumpable_keeper.enter();
  }
  void release() {
    if (shared_) dumpable_keeper.leave();
    shared_ = false;
  }
  ~SharedMm() { release(); }

 private:
  bool shared_;
};

// CAPSPAWN_CLONE_MODE=fork as the first load of the addon read it: -1 not read yet, 0, 1.
std::atomic<int> force_fork{-1};

// Blocks every signal in this thread, glibc's internal SIGCANCEL (32) and SIGSETXID (33)
// included, which sigfillset and pthread_sigmask leave out: the raw system call, as glibc's
// own CLONE_VM spawn does. The kernel keeps SIGKILL and SIGSTOP deliverable.
uint64_t block_all_signals() {
  uint64_t all = ~0ULL;
  uint64_t old = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
  return old;
}

void restore_signals(uint64_t old) { syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, sizeof old); }

bool probe_clone_vm() {
  if (force_fork.load() == 1) return false;
  ChildRegion region;
  if (!region.map()) return false;
  volatile int flag = 0;
  uint64_t old = block_all_signals();
  pid_t pid =
      clone(probe_child, region.stack_top(), CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<int*>(&flag));
  restore_signals(old);
  if (pid < 0) return false;
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return flag == 1;
}

}  // namespace

void capspawn_read_clone_mode(bool fork) {
  int unset = -1;
  force_fork.compare_exchange_strong(unset, fork ? 1 : 0);
}

bool capspawn_clone_shares_memory() {
  static std::once_flag once;
  static bool shares = false;
  std::call_once(once, [] { shares = probe_clone_vm(); });
  return shares;
}

LaunchResult capspawn_launch(const LaunchInput& in) {
  LaunchResult result;
  auto failed = [&result](int step, int err, int detail = 0) {
    result.ok = false;
    result.step = step;
    result.err = err;
    result.detail = detail;
    return result;
  };
  const bool share_memory = capspawn_clone_shares_memory();
  const int nslots = static_cast<int>(in.stdio.size());
  // Every fd the child uses after its dup2 loop must be above every slot it fills.
  const int floor = std::max(3, nslots);

  // The caller's descriptors first, before this launch opens anything: a number the caller
  // gave that is not open must fail with EBADF, never name a pipe made below.
  std::vector<Fd> child_src(nslots);
  for (int slot = 0; slot < nslots; slot++) {
    if (in.stdio[slot].kind != STDIO_FD) continue;
    child_src[slot].reset(fcntl(in.stdio[slot].fd, F_DUPFD_CLOEXEC, floor));
    if (child_src[slot].get() < 0) return failed(STEP_FCNTL, errno, slot);
  }
  Fd netns;
  if (in.has_netns && in.netns_path.empty()) {
    netns.reset(fcntl(in.netns_fd, F_DUPFD_CLOEXEC, floor));
    if (netns.get() < 0) return failed(STEP_SETNS, errno);
  }

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return failed(STEP_PIPE2, errno);
  Fd report_read(fds[0]);
  Fd report_write(fds[1]);
  if (!move_above(&report_write, floor)) return failed(STEP_FCNTL, errno);

  std::vector<Fd> parent_end(nslots);
  Fd terminal_slave;
  bool controlling_terminal = false;
  for (int slot = 0; slot < nslots; slot++) {
    const StdioSlot& s = in.stdio[slot];
    switch (s.kind) {
      case STDIO_TERMINAL: {
        // One pty pair for every terminal slot. The slave is opened through the master
        // (TIOCGPTPEER, no path lookup) and given to the target user as login(1) and sshd do:
        // owned by it, mode 0620 (the group keeps what devpts gave it, usually tty).
        if (terminal_slave.get() < 0) {
          // Non-blocking: the daemon reads and writes it from its event loop (GuestTerminal).
          Fd master(open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
          int unlock = 0;
          if (master.get() < 0 || ioctl(master.get(), TIOCSPTLCK, &unlock) != 0)
            return failed(STEP_OPENPT, errno);
          terminal_slave.reset(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
          if (terminal_slave.get() < 0) return failed(STEP_OPENPT, errno);
          if (fchown(terminal_slave.get(), in.uid, static_cast<gid_t>(-1)) != 0 ||
              fchmod(terminal_slave.get(), 0620) != 0)
            return failed(STEP_OPENPT, errno);
          struct winsize size = {};
          size.ws_col = static_cast<unsigned short>(in.terminal_cols);
          size.ws_row = static_cast<unsigned short>(in.terminal_rows);
          if (ioctl(master.get(), TIOCSWINSZ, &size) != 0) return failed(STEP_OPENPT, errno);
          parent_end[slot] = std::move(master);
          controlling_terminal = slot == 0;
        }
        child_src[slot].reset(fcntl(terminal_slave.get(), F_DUPFD_CLOEXEC, floor));
        if (child_src[slot].get() < 0) return failed(STEP_FCNTL, errno, slot);
        continue;
      }
      case STDIO_CLOSED:
      case STDIO_FD:
        continue;
      case STDIO_DEVNULL: {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0) return failed(STEP_OPEN, errno, slot);
        child_src[slot].reset(fd);
        break;
      }
      case STDIO_PIPE_TO_CHILD:
      case STDIO_PIPE_FROM_CHILD: {
        if (pipe2(fds, O_CLOEXEC) != 0) return failed(STEP_PIPE2, errno, slot);
        const bool to_child = s.kind == STDIO_PIPE_TO_CHILD;
        child_src[slot].reset(to_child ? fds[0] : fds[1]);
        parent_end[slot].reset(to_child ? fds[1] : fds[0]);
        break;
      }
      case STDIO_SOCKETPAIR: {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
          return failed(STEP_SOCKETPAIR, errno, slot);
        child_src[slot].reset(fds[1]);
        parent_end[slot].reset(fds[0]);
        break;
      }
    }
    if (!move_above(&child_src[slot], floor)) return failed(STEP_FCNTL, errno, slot);
  }

  // Placement: the files the child needs are opened here, before the credential change.
  Fd cgroup_procs;
  if (in.has_cgroup) {
    cgroup_procs.reset(open(in.cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (cgroup_procs.get() < 0) return failed(STEP_CGROUP, errno);
    if (!move_above(&cgroup_procs, floor)) return failed(STEP_FCNTL, errno);
  }
  struct stat netns_stat = {};
  if (in.has_netns) {
    if (!in.netns_path.empty()) netns.reset(open(in.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (netns.get() < 0 || fstat(netns.get(), &netns_stat) != 0) return failed(STEP_SETNS, errno);
    // A namespace of another kind would make setns fail only in the child; refuse it here.
    int type = ioctl(netns.get(), NS_GET_NSTYPE);
    if (type != CLONE_NEWNET) return failed(STEP_SETNS, type < 0 ? errno : EINVAL);
    if (!move_above(&netns, floor)) return failed(STEP_FCNTL, errno);
  }
  std::vector<ChildRlimit> rlimits;
  for (size_t i = 0; i + 2 < in.rlimits.size(); i += 3) {
    rlimits.push_back({static_cast<int>(in.rlimits[i]), in.rlimits[i + 1], in.rlimits[i + 2]});
  }
  std::vector<char> readback(4096);

  std::vector<char*> argv = split_block(in.argv_block);
  std::vector<char*> envp = split_block(in.env_block);
  std::vector<char*> candidates = split_block(in.candidates_block);
  std::vector<int> candidate_fds(candidates.size());
  std::vector<int> stdio_src(nslots);
  for (int slot = 0; slot < nslots; slot++) stdio_src[slot] = child_src[slot].get();
  std::vector<gid_t> groups_readback(in.groups.size() + 1);

  ChildPlan plan = {};
  plan.candidates = candidates.data();
  plan.ncandidates = static_cast<int>(candidates.size()) - 1;
  plan.candidate_fds = candidate_fds.data();
  plan.refuse_setid = in.refuse_setid;
  plan.refuse_file_caps = in.refuse_file_caps;
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.uid = in.uid;
  plan.gid = in.gid;
  plan.groups = in.groups.data();
  plan.ngroups = static_cast<int>(in.groups.size());
  plan.groups_readback = groups_readback.data();
  plan.groups_readback_len = static_cast<int>(groups_readback.size());
  plan.caps[0] = in.caps[0];
  plan.caps[1] = in.caps[1];
  plan.cap_last_cap = in.cap_last_cap;
  plan.limit_bounding_set = in.limit_bounding_set;
  plan.no_root = in.no_root;
  plan.no_new_privs = in.no_new_privs;
  plan.new_session = in.new_session || controlling_terminal;
  plan.controlling_terminal = controlling_terminal;
  plan.umask = in.umask;
  plan.cgroup_procs_fd = cgroup_procs.get();
  plan.cgroup_line = in.cgroup_line.c_str();
  plan.netns_fd = netns.get();
  plan.netns_dev = netns_stat.st_dev;
  plan.netns_ino = netns_stat.st_ino;
  plan.rlimits = rlimits.data();
  plan.nrlimits = static_cast<int>(rlimits.size());
  plan.oom_score_adj = in.has_oom_score_adj ? in.oom_score_adj.c_str() : nullptr;
  plan.set_nice = in.has_nice;
  plan.nice = in.nice;
  plan.readback = readback.data();
  plan.readback_len = static_cast<int>(readback.size());
  plan.cwd = in.has_cwd ? in.cwd.c_str() : nullptr;
  plan.pdeath_signal = in.pdeath_signal;
  plan.parent_pid = getpid();
  plan.stdio_src = stdio_src.data();
  plan.nstdio = nslots;
  plan.report_fd = report_write.get();
  plan.test_signal_before_verify = in.test_signal_before_verify;
  plan.walk_fds = in.test_walk_fds || !capspawn_close_range_cloexec();

  // One region per worker thread, mapped once: mapping and unmapping it cost as much as the
  // clone itself. Reusing it is safe because this thread gets it back only after the child
  // has exec'd or exited (the report pipe's end of file, or its record and the reap).
  static thread_local ChildRegion region;
  if (!region.map()) return failed(STEP_MMAP, errno);
  ChildArgs args = {&plan, region.shared()};
  region.shared()->step = STEP_CLONE;

  // With every signal blocked, no handler of the parent's can run in the child before it has
  // reset them all. CLONE_VFORK suspends only this thread, until the child execs or exits.
  int flags = CLONE_PIDFD | SIGCHLD;
  if (share_memory) flags |= CLONE_VM | CLONE_VFORK;
  SharedMm shared_mm(share_memory);
  uint64_t old_mask = block_all_signals();
  int pidfd = -1;
  pid_t pid = clone(capspawn_child_main, region.stack_top(), flags, &args, &pidfd);
  int clone_errno = errno;
  shared_mm.release();
  restore_signals(old_mask);
  if (pid < 0) return failed(STEP_CLONE, clone_errno);
  Fd child(pidfd);

  child_src.clear();
  report_write.reset();

  // End of file: execve succeeded or the child died. A record: the child failed at a step.
  ChildReport report = {};
  ssize_t n;
  while ((n = read(report_read.get(), &report, sizeof report)) < 0 && errno == EINTR) {
  }
  siginfo_t info;
  if (n != 0) {
    if (n != static_cast<ssize_t>(sizeof report)) {
      // Cannot happen with a pipe (records are below PIPE_BUF); fail closed all the same.
      int err = n < 0 ? errno : EPROTO;
      syscall(SYS_pidfd_send_signal, child.get(), SIGKILL, nullptr, 0);
      reap(child.get(), &info);
      return failed(region.shared()->step, err);
    }
    reap(child.get(), &info);
    const uint32_t program[8] = {report.mode,
                                 report.uid,
                                 report.gid,
                                 report.fcaps_magic,
                                 report.fcaps_permitted[0],
                                 report.fcaps_permitted[1],
                                 report.fcaps_inheritable[0],
                                 report.fcaps_inheritable[1]};
    std::copy(program, program + 8, result.program);
    return failed(report.step, report.err, report.detail);
  }
  // A child killed before execve also closes the pipe without a record. It has exited by now
  // (end of file without execve), and the step it was at tells the two apart.
  if (region.shared()->step != STEP_EXECVE) {
    reap(child.get(), &info);
    result.signal = info.si_code == CLD_EXITED ? 0 : info.si_status;
    return failed(region.shared()->step, 0);
  }

  result.ok = true;
  result.pid = pid;
  result.parent_fds.resize(nslots, -1);
  result.pidfd = child.release();
  for (int slot = 0; slot < nslots; slot++) result.parent_fds[slot] = parent_end[slot].release();
  return result;
}

void capspawn_abandon(const LaunchResult& result) {
  if (!result.ok) return;
  for (int fd : result.parent_fds)
    if (fd >= 0) close(fd);
  syscall(SYS_pidfd_send_signal, result.pidfd, SIGKILL, nullptr, 0);
  siginfo_t info;
  reap(result.pidfd, &info);
  close(result.pidfd);
}
