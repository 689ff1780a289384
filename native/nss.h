// Name resolution through NSS with the re-entrant calls. Runs on a libuv worker thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

// A user or group asked for by name or by id.
struct NameKey {
  bool by_id = false;
  unsigned long id = 0;
  std::string name;
};

struct UserEntry {
  std::string name;
  uid_t uid;
  gid_t gid;
  std::string home;
  std::string shell;
};

struct GroupEntry {
  std::string name;
  gid_t gid;
};

struct ResolveInput {
  bool has_user = false;
  NameKey user;
  std::vector<NameKey> groups;
  bool want_user_groups = false;  // getgrouplist() for the user found
};

struct ResolveResult {
  bool user_found = false;
  UserEntry user;
  std::vector<bool> group_found;
  std::vector<GroupEntry> groups;
  bool has_user_groups = false;
  std::vector<gid_t> user_groups;
  // An NSS failure other than "not found": the call and its errno.
  int err = 0;
  const char* failed_call = nullptr;
};

ResolveResult capspawn_resolve(const ResolveInput& input);
