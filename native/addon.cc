// Node-API glue: reads the flat plan from lib/, runs the work on libuv's thread pool, and
// returns plain numbers and strings. All policy lives in lib/.

#include <errno.h>
#include <napi.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "launch.h"
#include "nss.h"
#include "pidfd.h"
#include "steps.h"
#include "tap.h"
#include "watch.h"

namespace {

std::string bytes(const Napi::Value& value) {
  Napi::Buffer<char> buf = value.As<Napi::Buffer<char>>();
  return std::string(buf.Data(), buf.Length());
}

NameKey name_key(const Napi::Value& value) {
  NameKey key;
  if (value.IsNumber()) {
    key.by_id = true;
    key.id = static_cast<unsigned long>(value.As<Napi::Number>().DoubleValue());
  } else {
    key.name = value.As<Napi::String>().Utf8Value();
  }
  return key;
}

// Runs `work(input)` on libuv's thread pool and settles a promise with `answer(env, result)`.
// `Custody` says who owns what the work produced: `Answered(env, result)` once the answer is
// given, and `Abandon(result)` when it cannot be given (the environment is going away: the
// worker thread that started the work has ended), since nothing else ever will; the exception
// is then swallowed by node-addon-api (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS in binding.gyp)
// instead of aborting the process.
template <typename Input, typename Result, Result (*work)(const Input&),
          Napi::Object (*answer)(Napi::Env, const Result&), typename Custody>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* name, Input input)
      : Napi::AsyncWorker(env, name), input_(std::move(input)), deferred_(env) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { result_ = work(input_); }
  void OnOK() override {
    try {
      deferred_.Resolve(answer(Env(), result_));
    } catch (...) {
      Custody::Abandon(result_);
      throw;
    }
    Custody::Answered(Env(), result_);
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Input input_;
  Result result_;
  Napi::Promise::Deferred deferred_;
};

// The call that failed, as lib/ reads a resolve or tap answer: { errno, syscall }. False when
// nothing failed.
bool SetFailedCall(Napi::Object out, int err, const char* failed_call) {
  if (failed_call == nullptr) return false;
  out.Set("errno", err);
  out.Set("syscall", failed_call);
  return true;
}

Napi::Object ResolveAnswer(Napi::Env env, const ResolveResult& result) {
  Napi::Object out = Napi::Object::New(env);
  if (SetFailedCall(out, result.err, result.failed_call)) return out;
  if (result.user_found) {
    Napi::Object user = Napi::Object::New(env);
    user.Set("name", result.user.name);
    user.Set("uid", static_cast<double>(result.user.uid));
    user.Set("gid", static_cast<double>(result.user.gid));
    user.Set("home", result.user.home);
    user.Set("shell", result.user.shell);
    out.Set("user", user);
  } else {
    out.Set("user", env.Null());
  }
  Napi::Array groups = Napi::Array::New(env, result.groups.size());
  for (size_t i = 0; i < result.groups.size(); i++) {
    if (!result.group_found[i]) {
      groups.Set(i, env.Null());
      continue;
    }
    Napi::Object group = Napi::Object::New(env);
    group.Set("name", result.groups[i].name);
    group.Set("gid", static_cast<double>(result.groups[i].gid));
    groups.Set(i, group);
  }
  out.Set("groups", groups);
  if (result.has_user_groups) {
    Napi::Array list = Napi::Array::New(env, result.user_groups.size());
    for (size_t i = 0; i < result.user_groups.size(); i++)
      list.Set(i, static_cast<double>(result.user_groups[i]));
    out.Set("userGroups", list);
  } else {
    out.Set("userGroups", env.Null());
  }
  return out;
}

// A lookup's answer is plain data.
struct NothingHeld {
  static void Answered(Napi::Env, const ResolveResult&) {}
  static void Abandon(const ResolveResult&) {}
};

using ResolveWorker =
    PromiseWorker<ResolveInput, ResolveResult, capspawn_resolve, ResolveAnswer, NothingHeld>;

// resolve({ user?, groups: (string|number)[], userGroups: boolean })
Napi::Value Resolve(const Napi::CallbackInfo& info) {
  Napi::Object req = info[0].As<Napi::Object>();
  ResolveInput input;
  Napi::Value user = req.Get("user");
  if (!user.IsUndefined() && !user.IsNull()) {
    input.has_user = true;
    input.user = name_key(user);
  }
  Napi::Array groups = req.Get("groups").As<Napi::Array>();
  for (uint32_t i = 0; i < groups.Length(); i++) input.groups.push_back(name_key(groups.Get(i)));
  input.want_user_groups = req.Get("userGroups").ToBoolean().Value();
  auto* worker = new ResolveWorker(info.Env(), "capspawn:resolve", std::move(input));
  worker->Queue();
  return worker->Promise();
}

Napi::Object LaunchAnswer(Napi::Env env, const LaunchResult& result) {
  Napi::Object out = Napi::Object::New(env);
  if (result.ok) {
    out.Set("pid", result.pid);
    out.Set("pidfd", result.pidfd);
    Napi::Array fds = Napi::Array::New(env, result.parent_fds.size());
    for (size_t i = 0; i < result.parent_fds.size(); i++) fds.Set(i, result.parent_fds[i]);
    out.Set("fds", fds);
  } else {
    out.Set("step", result.step);
    out.Set("errno", result.err);
    out.Set("detail", result.detail);
    out.Set("signal", result.signal);
    if (result.step == STEP_PRIVILEGED_PROGRAM) {
      Napi::Array program = Napi::Array::New(env, 8);
      for (uint32_t i = 0; i < 8; i++) program.Set(i, static_cast<double>(result.program[i]));
      out.Set("program", program);
    }
  }
  return out;
}

// A launch's answer holds a running child, its pidfd and the parent's stdio ends: held here
// until JS takes the pidfd into a PidfdWatch (watch.h).
struct ChildHeld {
  static void Answered(Napi::Env env, const LaunchResult& result) {
    if (result.ok) HoldUntilWatched(env, result);
  }
  static void Abandon(const LaunchResult& result) { capspawn_abandon(result); }
};

using LaunchWorker = PromiseWorker<LaunchInput, LaunchResult, capspawn_launch, LaunchAnswer, ChildHeld>;

uint32_t u32(const Napi::Object& plan, const char* key) {
  return static_cast<uint32_t>(plan.Get(key).As<Napi::Number>().DoubleValue());
}

// launch(plan): the plan is built and checked by lib/launch-plan.ts.
Napi::Value Launch(const Napi::CallbackInfo& info) {
  Napi::Object plan = info[0].As<Napi::Object>();
  LaunchInput in;
  in.argv_block = bytes(plan.Get("argv"));
  in.env_block = bytes(plan.Get("env"));
  in.candidates_block = bytes(plan.Get("candidates"));
  in.uid = u32(plan, "uid");
  in.gid = u32(plan, "gid");
  Napi::Uint32Array groups = plan.Get("groups").As<Napi::Uint32Array>();
  in.groups.assign(groups.Data(), groups.Data() + groups.ElementLength());
  Napi::Uint32Array caps = plan.Get("caps").As<Napi::Uint32Array>();
  in.caps[0] = caps[0];
  in.caps[1] = caps[1];
  in.cap_last_cap = plan.Get("capLastCap").As<Napi::Number>().Int32Value();
  in.limit_bounding_set = plan.Get("limitBoundingSet").ToBoolean();
  in.no_root = plan.Get("noRoot").ToBoolean();
  in.no_new_privs = plan.Get("noNewPrivileges").ToBoolean();
  in.refuse_setid = plan.Get("refuseSetId").ToBoolean();
  in.refuse_file_caps = plan.Get("refuseFileCaps").ToBoolean();
  in.new_session = plan.Get("newSession").ToBoolean();
  Napi::Value terminal = plan.Get("terminalSize");
  if (terminal.IsArray()) {
    in.terminal_cols = terminal.As<Napi::Array>().Get(0u).As<Napi::Number>().Int32Value();
    in.terminal_rows = terminal.As<Napi::Array>().Get(1u).As<Napi::Number>().Int32Value();
  }
  in.umask = plan.Get("umask").As<Napi::Number>().Int32Value();
  Napi::Value cwd = plan.Get("cwd");
  in.has_cwd = !cwd.IsNull();
  if (in.has_cwd) {
    in.cwd = bytes(cwd);
    in.cwd.pop_back();  // the block's terminating NUL; c_str() adds its own
  }
  in.pdeath_signal = plan.Get("parentDeathSignal").As<Napi::Number>().Int32Value();
  Napi::Int32Array stdio = plan.Get("stdio").As<Napi::Int32Array>();
  for (size_t i = 0; i + 1 < stdio.ElementLength(); i += 2)
    in.stdio.push_back({static_cast<StdioKind>(stdio[i]), stdio[i + 1]});
  Napi::Value cgroup = plan.Get("cgroup");
  in.has_cgroup = cgroup.IsObject();
  if (in.has_cgroup) {
    Napi::Object c = cgroup.As<Napi::Object>();
    in.cgroup_procs = c.Get("procs").As<Napi::String>().Utf8Value();
    in.cgroup_line = c.Get("line").As<Napi::String>().Utf8Value();
  }
  Napi::Value netns = plan.Get("netns");
  in.has_netns = !netns.IsNull() && !netns.IsUndefined();
  if (netns.IsString())
    in.netns_path = netns.As<Napi::String>().Utf8Value();
  else if (netns.IsNumber())
    in.netns_fd = netns.As<Napi::Number>().Int32Value();
  Napi::BigUint64Array rlimits = plan.Get("rlimits").As<Napi::BigUint64Array>();
  in.rlimits.assign(rlimits.Data(), rlimits.Data() + rlimits.ElementLength());
  Napi::Value oom = plan.Get("oomScoreAdj");
  in.has_oom_score_adj = oom.IsNumber();
  if (in.has_oom_score_adj) in.oom_score_adj = std::to_string(oom.As<Napi::Number>().Int32Value());
  Napi::Value nice = plan.Get("nice");
  in.has_nice = nice.IsNumber();
  if (in.has_nice) in.nice = nice.As<Napi::Number>().Int32Value();
  in.test_signal_before_verify = plan.Get("testSignalBeforeVerify").As<Napi::Number>().Int32Value();
  in.test_walk_fds = plan.Get("testWalkFds").ToBoolean();
  auto* worker = new LaunchWorker(info.Env(), "capspawn:launch", std::move(in));
  worker->Queue();
  return worker->Promise();
}

Napi::Object TapAnswer(Napi::Env env, const TapResult& result) {
  Napi::Object out = Napi::Object::New(env);
  SetFailedCall(out, result.err, result.failed_call);
  return out;
}

struct TapHeld {
  static void Answered(Napi::Env, const TapResult&) {}
  static void Abandon(const TapResult&) {}
};

struct TapRequest {
  TapOp op;
  TapInput input;
};

TapResult TapWork(const TapRequest& request) { return capspawn_tap(request.op, request.input); }

using TapWorker = PromiseWorker<TapRequest, TapResult, TapWork, TapAnswer, TapHeld>;

// tap({ op, name, flags, owner, group, up }): checked and decided by lib/tap.ts.
Napi::Value Tap(const Napi::CallbackInfo& info) {
  Napi::Object req = info[0].As<Napi::Object>();
  TapRequest request;
  request.op = static_cast<TapOp>(req.Get("op").As<Napi::Number>().Int32Value());
  TapInput& input = request.input;
  input.name = req.Get("name").As<Napi::String>().Utf8Value();
  input.flags = req.Get("flags").As<Napi::Number>().Int32Value();
  input.owner = req.Get("owner").As<Napi::Number>().Int64Value();
  input.group = req.Get("group").As<Napi::Number>().Int64Value();
  input.up = req.Get("up").ToBoolean();
  auto* worker = new TapWorker(info.Env(), "capspawn:tap", std::move(request));
  worker->Queue();
  return worker->Promise();
}

// setWindowSize(fd, cols, rows): TIOCSWINSZ on a guest's pty master (the kernel sends the
// guest's foreground process group SIGWINCH); 0, or -errno.
Napi::Value SetWindowSize(const Napi::CallbackInfo& info) {
  struct winsize size = {};
  size.ws_col = static_cast<unsigned short>(info[1].As<Napi::Number>().Uint32Value());
  size.ws_row = static_cast<unsigned short>(info[2].As<Napi::Number>().Uint32Value());
  int rc = ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCSWINSZ, &size);
  return Napi::Number::New(info.Env(), rc == 0 ? 0 : -errno);
}

// getWindowSize(fd): [cols, rows] of a terminal (TIOCGWINSZ), or -errno.
Napi::Value GetWindowSize(const Napi::CallbackInfo& info) {
  struct winsize size = {};
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCGWINSZ, &size) != 0)
    return Napi::Number::New(info.Env(), -errno);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, size.ws_col);
  out.Set(1u, size.ws_row);
  return out;
}

// This process's securebits (prctl PR_GET_SECUREBITS); /proc/<pid>/status does not show them.
Napi::Value Securebits(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0)));
}

// pidfdOpen(pid): a close-on-exec pidfd for pid (pidfd_open), or -errno. The caller checks
// afterwards that the process is the one it meant (lib/cgroup-tree.ts): from then on the pid
// cannot be reused while the fd is open.
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return Napi::Number::New(info.Env(), fd < 0 ? -errno : static_cast<double>(fd));
}

// pidfdSignal(pidfd, signal): 0, or the errno of pidfd_send_signal.
Napi::Value PidfdSignal(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  long rc = syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0);
  return Napi::Number::New(info.Env(), rc < 0 ? errno : 0);
}

// This process's dumpable flag (prctl PR_GET_DUMPABLE), which a launch must leave as it was.
Napi::Value Dumpable(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)));
}

// fileCapabilities(path): the words of the security.capability attribute of the file execve
// would run (getxattr follows symlinks, as execve does): magic_etc, then permitted and
// inheritable per 32 bits; [] for none; -errno when it cannot be read. For explain, which
// reports what the child would refuse (the launch itself checks in the child).
Napi::Value FileCapabilities(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  uint32_t words[6] = {};
  ssize_t size = getxattr(path.c_str(), "security.capability", words, sizeof words);
  if (size < 0 && errno != ENODATA && errno != EOPNOTSUPP) return Napi::Number::New(info.Env(), -errno);
  size_t count = size < 0 ? 0 : static_cast<size_t>(size) / sizeof(uint32_t);
  Napi::Array out = Napi::Array::New(info.Env(), count);
  for (size_t i = 0; i < count; i++) out.Set(i, words[i]);
  return out;
}

Napi::Value CloneSharesMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), capspawn_clone_shares_memory());
}

Napi::Array NameList(Napi::Env env, const std::vector<const char*>& names) {
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) out.Set(i, names[i]);
  return out;
}

// An enum's values by the names lib/ gives them, for test/steps.test.ts to compare.
template <typename Enum>
Napi::Object NamedValues(Napi::Env env, std::initializer_list<std::pair<const char*, Enum>> values) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [name, value] : values) out.Set(name, Napi::Number::New(env, value));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Value mode =
      env.Global().Get("process").As<Napi::Object>().Get("env").As<Napi::Object>().Get("CAPSPAWN_CLONE_MODE");
  capspawn_read_clone_mode(mode.IsString() && mode.As<Napi::String>().Utf8Value() == "fork");
#define CAPSPAWN_NAME(id, name) name,
  exports.Set("steps", NameList(env, {CAPSPAWN_STEPS(CAPSPAWN_NAME)}));
  exports.Set("verifyItems", NameList(env, {CAPSPAWN_VERIFY_ITEMS(CAPSPAWN_NAME)}));
#undef CAPSPAWN_NAME
  // lib/launch-plan.ts's STDIO_KINDS and lib/tap.ts's TAP_OPS, by name.
  const std::initializer_list<std::pair<const char*, StdioKind>> stdio_kinds = {
      {"closed", STDIO_CLOSED},
      {"fd", STDIO_FD},
      {"devnull", STDIO_DEVNULL},
      {"pipe_to_child", STDIO_PIPE_TO_CHILD},
      {"pipe_from_child", STDIO_PIPE_FROM_CHILD},
      {"socketpair", STDIO_SOCKETPAIR},
      {"terminal", STDIO_TERMINAL},
  };
  const std::initializer_list<std::pair<const char*, TapOp>> tap_ops = {
      {"create", TAP_CREATE},
      {"remove", TAP_REMOVE},
      {"up", TAP_UP},
  };
  exports.Set("stdioKinds", NamedValues(env, stdio_kinds));
  exports.Set("tapOps", NamedValues(env, tap_ops));
  exports.Set("resolve", Napi::Function::New<Resolve>(env, "resolve"));
  exports.Set("launch", Napi::Function::New<Launch>(env, "launch"));
  exports.Set("tap", Napi::Function::New<Tap>(env, "tap"));
  exports.Set("cloneSharesMemory", Napi::Function::New<CloneSharesMemory>(env, "cloneSharesMemory"));
  exports.Set("securebits", Napi::Function::New<Securebits>(env, "securebits"));
  exports.Set("setWindowSize", Napi::Function::New<SetWindowSize>(env, "setWindowSize"));
  exports.Set("getWindowSize", Napi::Function::New<GetWindowSize>(env, "getWindowSize"));
  exports.Set("fileCapabilities", Napi::Function::New<FileCapabilities>(env, "fileCapabilities"));
  exports.Set("dumpable", Napi::Function::New<Dumpable>(env, "dumpable"));
  exports.Set("pidfdOpen", Napi::Function::New<PidfdOpen>(env, "pidfdOpen"));
  exports.Set("pidfdSignal", Napi::Function::New<PidfdSignal>(env, "pidfdSignal"));
  exports.Set("PidfdWatch", PidfdWatch::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(capspawn, Init)
