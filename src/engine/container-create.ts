/**
 * `create` and `run -d`: the container is prepared exactly as a foreground
 * run prepares it (row, bundle, config.json, /etc files, volumes), then
 * either left 'created' or started at once under its monitor.
 */
import { EngineError } from '../common/index.js';
import { checkRestartPolicy, execFailureStatus } from '../sys/index.js';
import { lookupContainer } from './container-reconcile.js';
import { startDetachedContainer } from './container-start.js';
import { parseSignal } from './container-stop.js';
import { removeContainer } from './containers.js';
import { runContainer } from './run.js';
import type { EngineState } from './state.js';
import type { RunRequest, RunResult } from './types.js';

const BUILT_IN_RUNTIMES = new Set(['', 'didactic', 'didactic-container', 'builtin']);

/** Docker's checks of the flags only a detached container uses, before anything exists. */
function checkDetachedRequest(request: RunRequest, verb: string): void {
  if (!BUILT_IN_RUNTIMES.has(request.runtime ?? '')) {
    throw new EngineError('NOT_IMPLEMENTED', `${verb}: detached containers run only with the built-in runtime, not ${request.runtime}`);
  }
  if (request.stopSignal !== undefined) parseSignal(request.stopSignal);
  if (request.stopTimeout !== undefined && !Number.isInteger(request.stopTimeout)) {
    throw new EngineError('INVALID_ARGUMENT', `invalid --stop-timeout: ${request.stopTimeout}`);
  }
  if (request.restart !== undefined) {
    checkRestartPolicy(request.restart);
    if (request.rm === true && request.restart !== 'no') throw new EngineError('INVALID_ARGUMENT', 'Conflicting options: --restart and --rm');
  }
}

/** `create`: row 'created', bundle and config.json ready; nothing runs. */
export async function createContainer(state: EngineState, request: RunRequest): Promise<{ id: string; name: string }> {
  checkDetachedRequest(request, 'create');
  const result = await runContainer(state, request, { createOnly: true });
  return { id: result.id, name: result.name };
}

/**
 * `run -d`: create, then start under the monitor; resolves once the
 * container's command runs. A command that cannot be started is reported
 * as a foreground run reports it (exit code 126/127 and the error).
 */
export async function runDetached(state: EngineState, request: RunRequest): Promise<RunResult> {
  const { id, name } = await createContainer(state, request);
  try {
    await startDetachedContainer(state, lookupContainer(state, id));
    return { id, name, exitCode: 0, oomKilled: false };
  } catch (error) {
    if (request.rm === true) await removeContainer(state, id, { force: true, volumes: true }).catch(() => undefined);
    const status = execFailureStatus(error);
    if (status !== undefined && error instanceof EngineError) return { id, name, exitCode: status, oomKilled: false, error };
    throw error;
  }
}
