/** Volume names: Docker's rule for named volumes, and the random 64-hex names of anonymous ones. */
import { EngineError, newContainerId } from '../common/index.js';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function isValidVolumeName(name: string): boolean {
  return NAME_RE.test(name) && name.length <= 255;
}

/** Throws INVALID_ARGUMENT for a name Docker would refuse. */
export function checkVolumeName(name: string, operation: string): string {
  if (!isValidVolumeName(name)) {
    throw new EngineError('INVALID_ARGUMENT', `${operation}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, {
      hint: 'a volume name has at least two characters; give a host path as an absolute path (/...) or ./relative',
    });
  }
  return name;
}

/** A fresh name for an anonymous volume: 64 random hex digits, like Docker's. */
export function newAnonymousVolumeName(): string {
  return newContainerId();
}

/** Whether a name looks like one given to an anonymous volume. */
export function looksAnonymous(name: string): boolean {
  return /^[0-9a-f]{64}$/.test(name);
}
