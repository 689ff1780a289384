// Watches one child through its pidfd on the event loop; signals it through the pidfd.
#pragma once

#include <napi.h>
#include <uv.h>

#include "launch.h"

// Keeps a launch answered to JS until a PidfdWatch takes its pidfd: if the environment ends
// before that (a worker thread ends with the answer still unread), the child is killed and
// reaped and its descriptors closed (capspawn_abandon).
void HoldUntilWatched(Napi::Env env, const LaunchResult& result);

class PidfdWatch : public Napi::ObjectWrap<PidfdWatch> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new PidfdWatch(pidfd, onExit(code, signal, waitErrno)); takes ownership of pidfd.
  explicit PidfdWatch(const Napi::CallbackInfo& info);
  ~PidfdWatch() override;

 private:
  static void OnReadable(uv_poll_t* handle, int status, int events);
  static void OnCleanup(PidfdWatch* self);
  void Finish(int code, int signal, int wait_errno);
  void Stop();
  void Release();

  Napi::Value Kill(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);

  uv_poll_t* poll_ = nullptr;
  int pidfd_ = -1;
  Napi::FunctionReference on_exit_;
  Napi::Env::CleanupHook<void (*)(PidfdWatch*), PidfdWatch> cleanup_;
};
