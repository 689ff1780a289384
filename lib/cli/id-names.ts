import { loadNative } from '../native.js';

/** Names of gids through NSS, for messages; a gid without a group entry is left out. */
export async function groupNames(gids: Iterable<number>): Promise<Map<number, string>> {
  const unique = [...new Set(gids)];
  const answer = await loadNative().resolve({ groups: unique, userGroups: false });
  const names = new Map<number, string>();
  answer.groups?.forEach((entry, i) => {
    const gid = unique[i];
    if (entry && gid !== undefined) names.set(gid, entry.name);
  });
  return names;
}

/** The name of a uid through NSS, or undefined. */
export async function userName(uid: number): Promise<string | undefined> {
  return (await loadNative().resolve({ user: uid, groups: [], userGroups: false })).user?.name;
}

/** `capspawn-extra (996)`, or just `996` for a gid without a name. */
export function namedId(id: number, names: ReadonlyMap<number, string>): string {
  const name = names.get(id);
  return name === undefined ? String(id) : `${name} (${id})`;
}
