#include "watch.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidfd.h"

#include <map>
#include <mutex>
#include <system_error>
#include <thread>

namespace {

// Launches answered on this thread's environment and not yet watched, by pidfd.
struct Held {
  napi_env env;
  LaunchResult result;
};
thread_local std::map<int, Held*> held;

void AbandonHeld(void* data) {
  Held* h = static_cast<Held*>(data);
  held.erase(h->result.pidfd);
  capspawn_abandon(h->result);
  delete h;
}

// Reaps exactly the child behind `pidfd` once it has exited; WNOHANG: false while it runs.
bool ReapIfExited(int pidfd) {
  siginfo_t info;
  for (;;) {
    memset(&info, 0, sizeof info);
    if (syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED | WNOHANG, nullptr) == 0) return info.si_pid != 0;
    if (errno != EINTR) return true;  // ECHILD: reaped already; nothing more to wait for
  }
}

void ReapOrphans(int epfd) {
  for (;;) {
    epoll_event events[16];
    int n = epoll_wait(epfd, events, 16, -1);
    for (int i = 0; i < n; i++) {
      int pidfd = events[i].data.fd;
      if (!ReapIfExited(pidfd)) continue;
      epoll_ctl(epfd, EPOLL_CTL_DEL, pidfd, nullptr);
      close(pidfd);
    }
  }
}

// A guest whose environment ended while it ran (its worker thread ended): no JS can hear of
// its exit any more, but it is still this process's child and must be reaped, or it stays a
// zombie that counts against its user's RLIMIT_NPROC. One thread for the whole process waits
// on such pidfds, started at the first, with every signal blocked; it reaps each child by its
// pidfd, never with waitpid(-1), which would take Node's own children.
void ReapWhenExited(int pidfd) {
  static std::once_flag once;
  static int epfd = -1;
  std::call_once(once, [] {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    try {
      std::thread(ReapOrphans, fd).detach();
      epfd = fd;
    } catch (const std::system_error&) {
      close(fd);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  });
  epoll_event event = {};
  event.events = EPOLLIN;
  event.data.fd = pidfd;
  if (epfd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, pidfd, &event) == 0) return;
  // No reaper thread could be had: reap now if the child is gone, else it stays unreaped.
  ReapIfExited(pidfd);
  close(pidfd);
}

}  // namespace

void HoldUntilWatched(Napi::Env env, const LaunchResult& result) {
  Held* h = new Held{env, result};
  held[result.pidfd] = h;
  napi_add_env_cleanup_hook(env, AbandonHeld, h);
}

// The pidfd is watched now: the watch owns it, and the guest's streams own the stdio ends.
static void Watched(int pidfd) {
  auto it = held.find(pidfd);
  if (it == held.end()) return;
  napi_remove_env_cleanup_hook(it->second->env, AbandonHeld, it->second);
  delete it->second;
  held.erase(it);
}

Napi::Function PidfdWatch::Define(Napi::Env env) {
  return DefineClass(env, "PidfdWatch",
                     {
                         InstanceMethod<&PidfdWatch::Kill>("kill"),
                         InstanceMethod<&PidfdWatch::Ref>("ref"),
                         InstanceMethod<&PidfdWatch::Unref>("unref"),
                     });
}

PidfdWatch::PidfdWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PidfdWatch>(info) {
  Napi::Env env = info.Env();
  pidfd_ = info[0].As<Napi::Number>().Int32Value();
  Watched(pidfd_);
  on_exit_ = Napi::Persistent(info[1].As<Napi::Function>());
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  poll_->data = this;
  int err = uv_poll_init(loop, poll_, pidfd_);
  if (err == 0) err = uv_poll_start(poll_, UV_READABLE, OnReadable);
  if (err != 0) {
    delete poll_;
    poll_ = nullptr;
    Napi::Error::New(env, std::string("uv_poll on pidfd: ") + uv_strerror(err)).ThrowAsJavaScriptException();
    return;
  }
  // Stay alive (and keep the callback) while the child runs, whatever JS holds.
  Napi::ObjectWrap<PidfdWatch>::Ref();
  cleanup_ = env.AddCleanupHook(OnCleanup, this);
}

PidfdWatch::~PidfdWatch() {
  if (pidfd_ >= 0) close(pidfd_);
}

void PidfdWatch::OnReadable(uv_poll_t* handle, int status, int) {
  PidfdWatch* self = static_cast<PidfdWatch*>(handle->data);
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int wait_errno = 0;
  if (status == 0) {
    // Readable means the process exited; WNOHANG all the same, never block the loop.
    long r;
    while ((r = syscall(SYS_waitid, P_PIDFD, self->pidfd_, &info, WEXITED | WNOHANG, nullptr)) < 0 &&
           errno == EINTR) {
    }
    if (r < 0)
      wait_errno = errno;
    else if (info.si_pid == 0)
      return;  // not yet
  } else {
    wait_errno = -status;
  }
  int code = -1;
  int signal = 0;
  if (wait_errno == 0) {
    if (info.si_code == CLD_EXITED)
      code = info.si_status;
    else
      signal = info.si_status;
  }
  self->Finish(code, signal, wait_errno);
}

void PidfdWatch::Finish(int code, int signal, int wait_errno) {
  Stop();
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::FunctionReference callback = std::move(on_exit_);
  Napi::Value js_code = code >= 0 ? Napi::Number::New(env, code) : env.Null();
  Napi::Value js_signal = signal > 0 ? Napi::Number::New(env, signal) : env.Null();
  Napi::ObjectWrap<PidfdWatch>::Unref();
  try {
    callback.MakeCallback(Value(), {js_code, js_signal, Napi::Number::New(env, wait_errno)});
  } catch (const Napi::Error& error) {
    // Something the exit callback ran threw (an 'exit' listener, say). This is a callback from
    // the event loop, so the exception goes where Node sends those: 'uncaughtException', or the
    // usual report and exit status 1. Left to unwind out of the uv callback, it would abort.
    napi_fatal_exception(env, error.Value());
  }
}

// The child is reaped: the poll and the pidfd go, and so does the cleanup hook.
void PidfdWatch::Stop() {
  if (poll_ == nullptr) return;
  Release();
  cleanup_.Remove(Env());
}

// The environment is going away (a worker thread ends) with the child not yet reaped: it runs
// on, and the process-wide reaper takes its pidfd.
void PidfdWatch::OnCleanup(PidfdWatch* self) {
  int pidfd = self->pidfd_;
  self->pidfd_ = -1;
  self->Release();
  if (pidfd >= 0) ReapWhenExited(pidfd);
}

void PidfdWatch::Release() {
  if (poll_ == nullptr) return;
  uv_poll_stop(poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(poll_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
  poll_ = nullptr;
  if (pidfd_ >= 0) close(pidfd_);
  pidfd_ = -1;
}

// kill(signal): 0, or the errno of pidfd_send_signal; ESRCH once the child is reaped, so a
// later process with the same pid is never signalled.
Napi::Value PidfdWatch::Kill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pidfd_ < 0) return Napi::Number::New(env, ESRCH);
  int sig = info[0].As<Napi::Number>().Int32Value();
  if (syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0) != 0) return Napi::Number::New(env, errno);
  return Napi::Number::New(env, 0);
}

Napi::Value PidfdWatch::Ref(const Napi::CallbackInfo& info) {
  if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

Napi::Value PidfdWatch::Unref(const Napi::CallbackInfo& info) {
  if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}
