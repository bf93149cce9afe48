/**
 * Name resolution on user networks without a DNS server: every member's
 * /etc/hosts (a file in its bundle, bind-mounted into the container) carries
 * a block the engine rewrites whenever a member joins or leaves.
 *
 * The file is rewritten in place (truncate + write), never replaced by a
 * rename: a bind mount holds the inode, so a renamed-in file would not be
 * seen inside the container.
 */
import fs from 'node:fs';
import { EngineError } from '../common/index.js';
import { parseIpv4 } from './ipv4.js';

export const HOSTS_BEGIN = '# didactic-container: network peers, kept current by the engine';
export const HOSTS_END = '# didactic-container: end';

export interface HostsMember {
  containerId: string;
  name: string;
  ip: string;
  aliases?: readonly string[];
}

export interface ExtraHost {
  host: string;
  ip: string;
}

/** One hosts line per member: `IP<TAB>name alias... shortid`, in a stable order. */
export function hostsEntriesFor(members: readonly HostsMember[]): string[] {
  return [...members]
    .sort((a, b) => a.name.localeCompare(b.name) || a.containerId.localeCompare(b.containerId))
    .map((member) => {
      const names = [member.name, ...(member.aliases ?? []), member.containerId.slice(0, 12)];
      return `${member.ip}\t${[...new Set(names.filter(Boolean))].join(' ')}`;
    });
}

/** `--add-host NAME:IP` (Docker also accepts NAME=IP). */
export function parseAddHost(spec: string): ExtraHost {
  const match = /^([^:=\s]+)[:=](\S+)$/.exec(spec.trim());
  if (match === null) throw new EngineError('INVALID_ARGUMENT', `add-host ${JSON.stringify(spec)}: expected NAME:IP`, { hint: 'e.g. --add-host db:10.0.0.5' });
  const [, host, ip] = match as unknown as [string, string, string];
  if (parseIpv4(ip) === undefined) throw new EngineError('INVALID_ARGUMENT', `add-host ${JSON.stringify(spec)}: ${JSON.stringify(ip)} is not an IPv4 address`);
  return { host, ip };
}

export function extraHostEntries(extra: readonly ExtraHost[]): string[] {
  return extra.map((item) => `${item.ip}\t${item.host}`);
}

/** The text of a hosts file with the engine's block replaced by `entries` (removed when empty). */
export function renderHostsFile(current: string, entries: readonly string[]): string {
  const lines = current.split('\n');
  const begin = lines.indexOf(HOSTS_BEGIN);
  const end = begin < 0 ? -1 : lines.indexOf(HOSTS_END, begin);
  const kept = begin < 0 || end < 0 ? lines : [...lines.slice(0, begin), ...lines.slice(end + 1)];
  while (kept.length > 0 && kept.at(-1) === '') kept.pop();
  const block = entries.length === 0 ? [] : [HOSTS_BEGIN, ...new Set(entries), HOSTS_END];
  return `${[...kept, ...block].join('\n')}\n`;
}

/** Rewrites the engine's block of one hosts file in place; false when the file is gone (container removed). */
export function rewriteHostsFile(file: string, entries: readonly string[]): boolean {
  let current: string;
  try {
    current = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new EngineError('UNAVAILABLE', `update hosts file ${file}: ${(error as Error).message}`, { cause: error });
  }
  const next = renderHostsFile(current, entries);
  if (next !== current) fs.writeFileSync(file, next);
  return true;
}
