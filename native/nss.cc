#include "nss.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace {

// getpwnam_r(3): 0, ENOENT, ESRCH, EBADF and EPERM all mean "no such entry" depending on
// the NSS module; anything else is a real failure.
bool means_not_found(int err) {
  return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
}

// Calls `lookup(buffer, size, &found)` with a growing buffer until it is large enough.
template <typename Lookup>
int with_buffer(Lookup lookup) {
  std::vector<char> buf(16 * 1024);
  for (;;) {
    int err = lookup(buf.data(), buf.size());
    if (err != ERANGE || buf.size() >= (64u << 20)) return err;
    buf.resize(buf.size() * 2);
  }
}

}  // namespace

ResolveResult capspawn_resolve(const ResolveInput& in) {
  ResolveResult out;

  // With no descriptor free, NSS's files module cannot open /etc/passwd and glibc reports
  // "no such user" rather than EMFILE; see that one is free first.
  int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (spare < 0) {
    out.err = errno;
    out.failed_call = "open";
    return out;
  }
  close(spare);

  if (in.has_user) {
    const char* call = in.user.by_id ? "getpwuid_r" : "getpwnam_r";
    int err = with_buffer([&](char* buf, size_t size) {
      struct passwd pw;
      struct passwd* found = nullptr;
      int e = in.user.by_id ? getpwuid_r(static_cast<uid_t>(in.user.id), &pw, buf, size, &found)
                            : getpwnam_r(in.user.name.c_str(), &pw, buf, size, &found);
      if (found != nullptr) {
        out.user_found = true;
        out.user = {pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir ? pw.pw_dir : "",
                    pw.pw_shell ? pw.pw_shell : ""};
        return 0;
      }
      return e;
    });
    if (!out.user_found && !means_not_found(err)) {
      out.err = err;
      out.failed_call = call;
      return out;
    }
  }

  out.group_found.resize(in.groups.size(), false);
  out.groups.resize(in.groups.size());
  for (size_t i = 0; i < in.groups.size(); i++) {
    const NameKey& key = in.groups[i];
    const char* call = key.by_id ? "getgrgid_r" : "getgrnam_r";
    int err = with_buffer([&](char* buf, size_t size) {
      struct group gr;
      struct group* found = nullptr;
      int e = key.by_id ? getgrgid_r(static_cast<gid_t>(key.id), &gr, buf, size, &found)
                        : getgrnam_r(key.name.c_str(), &gr, buf, size, &found);
      if (found != nullptr) {
        out.group_found[i] = true;
        out.groups[i] = {gr.gr_name, gr.gr_gid};
        return 0;
      }
      return e;
    });
    if (!out.group_found[i] && !means_not_found(err)) {
      out.err = err;
      out.failed_call = call;
      return out;
    }
  }

  if (in.want_user_groups && out.user_found) {
    // The user's groups as login(1) and initgroups(3) see them, primary group included.
    int count = 64;
    std::vector<gid_t> list(count);
    while (getgrouplist(out.user.name.c_str(), out.user.gid, list.data(), &count) < 0) {
      if (count <= static_cast<int>(list.size())) count = static_cast<int>(list.size()) * 2;
      list.resize(count);
    }
    list.resize(count);
    out.has_user_groups = true;
    out.user_groups = list;
  }
  return out;
}
