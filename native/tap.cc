#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

TapResult failed(const char* call) {
  TapResult result;
  result.err = errno;
  result.failed_call = call;
  return result;
}

// SIOCSIFFLAGS works on any socket of the device's network namespace (netdevice(7)).
TapResult bring_up(const char* name) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return failed("socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  TapResult result;
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
    result = failed("SIOCGIFFLAGS");
  else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) result = failed("SIOCSIFFLAGS");
  }
  close(sock);
  return result;
}

}  // namespace

TapResult capspawn_tap(TapOp op, const TapInput& in) {
  if (op == TAP_UP) return bring_up(in.name.c_str());
  bool remove = op == TAP_REMOVE;
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return failed("open");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, in.name.c_str(), IFNAMSIZ - 1);
  // Creating: IFF_TUN_EXCL makes an existing device of that name fail with EBUSY instead of
  // being attached to, so lib/ can tell the caller what is there.
  ifr.ifr_flags = static_cast<short>(in.flags | (remove ? 0 : IFF_TUN_EXCL));
  TapResult result;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0)
    result = failed("TUNSETIFF");
  else if (remove) {
    if (ioctl(fd, TUNSETPERSIST, 0) < 0) result = failed("TUNSETPERSIST");
  } else if (in.owner >= 0 && ioctl(fd, TUNSETOWNER, static_cast<unsigned long>(in.owner)) < 0) {
    result = failed("TUNSETOWNER");
  } else if (in.group >= 0 && ioctl(fd, TUNSETGROUP, static_cast<unsigned long>(in.group)) < 0) {
    result = failed("TUNSETGROUP");
  } else if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
    result = failed("TUNSETPERSIST");
  } else if (in.up) {
    result = bring_up(in.name.c_str());
    // Nothing half-made stays behind: a device that cannot be brought up is removed again.
    if (result.failed_call != nullptr) ioctl(fd, TUNSETPERSIST, 0);
  }
  // Until TUNSETPERSIST succeeded, closing the fd removes the device.
  close(fd);
  return result;
}
