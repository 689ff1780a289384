// TAP devices made and removed with the tun driver's ioctls (Documentation/networking/tuntap.rst).
// Runs on a libuv worker thread. lib/tap.ts checks the name and decides the flags and ids.
#pragma once

#include <string>

struct TapInput {
  std::string name;      // at most IFNAMSIZ - 1 bytes, checked by lib/
  int flags = 0;         // IFF_TAP | IFF_NO_PI [| IFF_VNET_HDR | IFF_MULTI_QUEUE], from lib/
  long long owner = -1;  // uid for TUNSETOWNER, or -1 to leave it unset
  long long group = -1;  // gid for TUNSETGROUP, or -1
  bool up = false;       // create: also set IFF_UP with SIOCSIFFLAGS
};

// What to do with the device. lib/tap.ts's TAP_OPS has the same values (test/steps.test.ts).
enum TapOp : int {
  TAP_CREATE = 0,  // a new persistent device (an existing one fails with EBUSY)
  TAP_REMOVE = 1,  // attach with `flags`, then TUNSETPERSIST 0: the device goes with the fd
  TAP_UP = 2,      // only SIOCSIFFLAGS IFF_UP, for an existing device
};

// The call that failed and its errno; failed_call is null on success.
struct TapResult {
  int err = 0;
  const char* failed_call = nullptr;
};

TapResult capspawn_tap(TapOp op, const TapInput& input);
