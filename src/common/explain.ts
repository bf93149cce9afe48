/**
 * Learning mode. Every kernel-facing step the engine takes is an ExplainEvent:
 * what happens in words, and the call as a learner would write it. Library
 * code reports steps to an Explainer; only the CLI (or API) decides whether
 * and how they are shown.
 */

export type ExplainTopic = 'image' | 'storage' | 'namespace' | 'mount' | 'cgroup' | 'security' | 'process' | 'network' | 'state';

export interface ExplainEvent {
  topic: ExplainTopic;
  /** What happens, in plain words. */
  say: string;
  /** The system call or file write, e.g. `mount("overlay", "/x", "overlay", 0, "lowerdir=...")`. */
  call?: string;
}

export interface Explainer {
  readonly enabled: boolean;
  step(event: ExplainEvent): void;
}

export const silentExplainer: Explainer = { enabled: false, step() {} };

/** An explainer that keeps every event, for tests and for `inspect`-style replays. */
export function createRecordingExplainer(): Explainer & { events: ExplainEvent[] } {
  const events: ExplainEvent[] = [];
  return { enabled: true, events, step: (event) => void events.push(event) };
}

export function createCallbackExplainer(callback: (event: ExplainEvent) => void): Explainer {
  return { enabled: true, step: callback };
}
