/**
 * The container's environment, Docker's way: PATH and HOSTNAME (and TERM
 * with a terminal) first, then the image's Env, then --env-file and -e
 * entries, each replacing an earlier entry of the same name; HOME from the
 * user's passwd entry when nothing set it.
 */
import { EngineError } from '../common/index.js';

/** The name of a NAME=VALUE entry (all of it when there is no '='). */
export function envName(entry: string): string {
  const equals = entry.indexOf('=');
  return equals === -1 ? entry : entry.slice(0, equals);
}

/** Replaces entries of the same name in place, appends the others. */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const out = [...base];
  const index = new Map(out.map((entry, i) => [envName(entry), i]));
  for (const entry of overrides) {
    const name = envName(entry);
    const at = index.get(name);
    if (at === undefined) {
      index.set(name, out.length);
      out.push(entry);
    } else {
      out[at] = entry;
    }
  }
  return out;
}

export type HostEnv = Readonly<Record<string, string | undefined>>;

/**
 * One -e value: NAME=VALUE as is; NAME alone takes the host's value, or is
 * left out when the host has none.
 */
export function expandEnvFlag(entry: string, hostEnv: HostEnv): string | undefined {
  const name = envName(entry);
  if (name === '') throw new EngineError('INVALID_ARGUMENT', `invalid environment variable: ${entry}`);
  if (entry.includes('=')) return entry;
  const value = hostEnv[name];
  return value === undefined ? undefined : `${name}=${value}`;
}

/**
 * The entries of an --env-file's text: one NAME=VALUE or NAME a line, blank
 * lines and lines starting with # skipped, the value taken verbatim (no
 * quote processing, as Docker).
 */
export function parseEnvFile(text: string, hostEnv: HostEnv, source = 'env file'): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, lineIndex) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const name = envName(line);
    if (name === '') {
      throw new EngineError('INVALID_ARGUMENT', `read ${source}: no variable name on line ${lineIndex + 1}`);
    }
    if (/\s/.test(name)) {
      throw new EngineError('INVALID_ARGUMENT', `read ${source}: variable '${name}' contains whitespaces`);
    }
    const entry = expandEnvFlag(line, hostEnv);
    if (entry !== undefined) out.push(entry);
  });
  return out;
}
