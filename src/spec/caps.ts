/**
 * The container's capability set from Docker's default, --cap-add,
 * --cap-drop and --privileged, in Docker's order of application:
 *   --privileged: every capability;
 *   --cap-add ALL: every capability except those dropped;
 *   --cap-drop ALL: only those added;
 *   otherwise: the default minus the dropped, then the added (so a
 *   capability both added and dropped is kept).
 * Capabilities the engine itself does not hold in its bounding set cannot be
 * given: asked for by name that is an error, implied by ALL or --privileged
 * they are left out.
 */
import { EngineError } from '../common/index.js';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from './defaults.js';
import { ALL, normalizeCapabilities } from './run-options.js';

export interface CapabilityRequest {
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  privileged?: boolean;
}

export function planCapabilities(request: CapabilityRequest, engineCaps: readonly string[] = ALL_CAPABILITIES): string[] {
  const available = ALL_CAPABILITIES.filter((cap) => engineCaps.includes(cap));
  if (request.privileged) return available;
  const adds = normalizeCapabilities(request.capAdd);
  const drops = normalizeCapabilities(request.capDrop);
  for (const cap of adds) {
    if (cap !== ALL && !engineCaps.includes(cap)) {
      throw new EngineError('FAILED_PRECONDITION', `cap-add ${cap}: the engine does not hold it`, {
        hint: 'a process cannot give a capability missing from its own bounding set (see CapBnd in /proc/self/status)',
      });
    }
  }
  let caps: string[];
  if (adds.includes(ALL)) {
    caps = available.filter((cap) => !drops.includes(cap));
  } else if (drops.includes(ALL)) {
    caps = adds;
  } else {
    caps = DEFAULT_CAPABILITIES.filter((cap) => !drops.includes(cap) && engineCaps.includes(cap));
    for (const cap of adds) if (!caps.includes(cap)) caps.push(cap);
  }
  return caps;
}
