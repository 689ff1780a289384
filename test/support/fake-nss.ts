import type { ResolveAnswer, ResolveRequest } from '../../lib/identity.js';

// NSS as a table, so identity rules and the whole launch pipeline are tested without the addon.
const users = [
  { name: 'justin', uid: 1000, gid: 1000, home: '/home/justin', shell: '/bin/bash' },
  { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' },
  { name: 'wheelie', uid: 1001, gid: 1001, home: '/', shell: '/bin/sh' },
];
const groups = [
  { name: 'justin', gid: 1000 },
  { name: 'cvdnetwork', gid: 990 },
  { name: 'kvm', gid: 104 },
  { name: 'root', gid: 0 },
];
/** Each user's groups as getgrouplist(3) would give them. */
const memberships: Record<string, number[]> = { justin: [1000, 990, 104], root: [0], wheelie: [1001, 0] };

/** The resolver spawnGuest gets from the addon, answering from the tables above. */
export function fakeNss(req: ResolveRequest): Promise<ResolveAnswer> {
  const user = users.find((u) => (typeof req.user === 'number' ? u.uid === req.user : u.name === req.user)) ?? null;
  return Promise.resolve({
    user,
    groups: req.groups.map((g) => groups.find((e) => e.name === g) ?? null),
    userGroups: req.userGroups && user ? (memberships[user.name] ?? null) : null,
  });
}
