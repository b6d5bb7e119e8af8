/**
 * Resolve a docker `User` string against an image's /etc/passwd and /etc/group, with the rules (and error texts) of
 * moby/sys/user GetExecUser, which dockerd uses: names must exist, numeric ids may be absent from the files.
 */

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary gids as docker puts them in the OCI spec: the primary gid first, then memberships, then GroupAdd. */
  additionalGids: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const MAX_ID = 2 ** 31 - 1;
const rangeError = (): Error => new Error(`uids and gids must be in range 0-${MAX_ID}`);

/** Split a colon-separated file into trimmed non-empty lines of fields (comments skipped). */
function records(content: string | undefined): string[][] {
  if (content === undefined) return [];
  return content.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
}

/** Like Go's Atoi with errors ignored (malformed files are tolerated, as docker does). */
const atoi = (s: string | undefined): number => (s !== undefined && /^[+-]?\d+$/.test(s) ? Number(s) : 0);

export function parsePasswd(content: string | undefined): PasswdEntry[] {
  return records(content).map((f) => ({ name: f[0] ?? '', uid: atoi(f[2]), gid: atoi(f[3]), home: f[5] ?? '' }));
}

export function parseGroup(content: string | undefined): GroupEntry[] {
  return records(content).map((f) => ({
    name: f[0] ?? '',
    gid: atoi(f[2]),
    members: f[3] ? f[3].split(',') : [],
  }));
}

/** A user/group argument: numeric when it is all digits (then always treated as an id). */
function numeric(arg: string): number | undefined {
  if (!/^[+-]?\d+$/.test(arg)) return undefined;
  const n = Number(arg);
  if (n < 0 || n > MAX_ID) throw rangeError();
  return n;
}

/**
 * @param user      docker's `User` (`""`, `name`, `uid`, `name:group`, `uid:gid`, ...)
 * @param passwd    content of the image's /etc/passwd, undefined when the file is absent
 * @param group     content of the image's /etc/group, undefined when absent
 * @param groupAdd  HostConfig.GroupAdd (names or gids)
 */
export function resolveUser(user: string, passwd: string | undefined, group: string | undefined, groupAdd: string[] = []): ResolvedUser {
  const [userArg = '', groupArg = ''] = user.split(':');
  const uidArg = userArg === '' ? undefined : numeric(userArg);
  const gidArg = groupArg === '' ? undefined : numeric(groupArg);
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);

  let uid = 0;
  let gid = 0;
  let home = '/';
  let matchedName = '';
  const match = users.find((u) => (userArg === '' ? u.uid === 0 : uidArg !== undefined ? u.uid === uidArg : u.name === userArg));
  if (match) {
    ({ uid, gid } = match);
    home = match.home || '/';
    matchedName = match.name;
  } else if (userArg !== '') {
    if (uidArg === undefined) throw new Error(`unable to find user ${userArg}: no matching entries in passwd file`);
    uid = uidArg;
  }

  let memberships: number[] = [];
  if (groupArg !== '') {
    const g = groups.find((e) => (gidArg !== undefined ? e.gid === gidArg : e.name === groupArg));
    if (g) gid = g.gid;
    else if (gidArg !== undefined) gid = gidArg;
    else throw new Error(`unable to find group ${groupArg}: no matching entries in group file`);
  } else if (matchedName !== '') {
    // Supplementary groups only come with the implicit form (`user`, not `user:group`).
    memberships = groups.filter((e) => e.members.includes(matchedName)).map((e) => e.gid);
  }

  const added = groupAdd.map((ag) => {
    const n = numeric(ag);
    const g = groups.find((e) => (n !== undefined ? e.gid === n : e.name === ag));
    if (g) return g.gid;
    if (n !== undefined) return n;
    throw new Error(`unable to find group ${ag}: no matching entries in group file`);
  });
  return { uid, gid, additionalGids: [gid, ...memberships, ...new Set(added)], home };
}
