/**
 * Resolving -u/--user (or the image's User) against the image's /etc/passwd
 * and /etc/group, with Docker's (runc's) rules:
 *  - a numeric uid need not exist in passwd; then gid 0 and home "/";
 *  - a name must exist: "unable to find user x: no matching entries in passwd file";
 *  - an explicit group (name or gid) becomes the primary gid and no
 *    supplementary groups are added; otherwise a user found by name gets the
 *    groups of /etc/group that list it as a member.
 * The caller reads the files from the rootfs and passes their text (undefined
 * when a file is missing).
 */
import { EngineError } from '../common/index.js';
import { parseUserSpec } from './run-options.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
  /** The user's name when passwd has it. */
  name?: string;
}

/** The largest uid or gid accepted, as in runc. */
export const MAX_ID = 2 ** 31 - 1;

function lines(text: string | undefined): string[][] {
  if (text === undefined) return [];
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

function toId(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value <= MAX_ID ? value : undefined;
}

/** The entries of an /etc/passwd text; malformed lines are skipped. */
export function parsePasswd(text: string | undefined): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const fields of lines(text)) {
    const uid = toId(fields[2]);
    const gid = toId(fields[3]);
    if (fields[0] === undefined || fields[0] === '' || uid === undefined || gid === undefined) continue;
    entries.push({ name: fields[0], uid, gid, home: fields[5] ?? '', shell: fields[6] ?? '' });
  }
  return entries;
}

/** The entries of an /etc/group text; malformed lines are skipped. */
export function parseGroup(text: string | undefined): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const fields of lines(text)) {
    const gid = toId(fields[2]);
    if (fields[0] === undefined || fields[0] === '' || gid === undefined) continue;
    const members = (fields[3] ?? '').split(',').map((member) => member.trim()).filter((member) => member !== '');
    entries.push({ name: fields[0], gid, members });
  }
  return entries;
}

function numericId(text: string, what: 'uid' | 'gid', spec: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  if (value > MAX_ID) {
    throw new EngineError('INVALID_ARGUMENT', `resolve user ${JSON.stringify(spec)}: ${what} ${text} out of range`, {
      hint: `uids and gids must be in range 0-${MAX_ID}`,
    });
  }
  return value;
}

/**
 * The uid, gid, supplementary gids and home of a user spec (name, uid,
 * uid:gid, name:group; empty means root) in an image.
 */
export function resolveUser(
  spec: string,
  files: { passwd: string | undefined; group: string | undefined },
): ResolvedUser {
  const { user, group } = parseUserSpec(spec);
  const passwd = parsePasswd(files.passwd);
  const groups = parseGroup(files.group);

  const uid = numericId(user, 'uid', spec);
  const entry = uid === undefined ? passwd.find((e) => e.name === user) : passwd.find((e) => e.uid === uid);
  if (entry === undefined && uid === undefined) {
    throw new EngineError('NOT_FOUND', `unable to find user ${user}: no matching entries in passwd file`);
  }
  const resolved: ResolvedUser = {
    uid: entry?.uid ?? uid!,
    gid: entry?.gid ?? 0,
    additionalGids: [],
    home: entry?.home || '/',
  };
  if (entry !== undefined) resolved.name = entry.name;

  if (group !== undefined) {
    const gid = numericId(group, 'gid', spec);
    if (gid !== undefined) {
      resolved.gid = gid;
    } else {
      const found = groups.find((g) => g.name === group);
      if (found === undefined) {
        throw new EngineError('NOT_FOUND', `unable to find group ${group}: no matching entries in group file`);
      }
      resolved.gid = found.gid;
    }
  } else if (entry !== undefined) {
    // Supplementary groups: every group listing the user by name, once each.
    for (const g of groups) {
      if (g.members.includes(entry.name) && !resolved.additionalGids.includes(g.gid)) {
        resolved.additionalGids.push(g.gid);
      }
    }
  }
  return resolved;
}
