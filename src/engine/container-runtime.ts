/**
 * Running a bundle with an installed OCI runtime (runc, or any binary that
 * speaks its command line) instead of the built-in launcher:
 *
 *   <runtime> --root <state> --log <bundle>/runtime.log --log-format json run --keep --bundle <dir> <id>
 *   <runtime> --root <state> delete --force <id>
 *
 * --keep leaves the container (and its cgroup) after it exits so that the
 * OOM killer's verdict can still be read; delete removes both afterwards.
 * The runtime exits with the container's status, and also non-zero when it
 * could not start the command: its JSON log tells the two apart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError, type Explainer } from '../common/index.js';
import { launchError, runProcess, type RunningProcess } from '../sys/index.js';
import type { BundlePaths } from './container-fs.js';
import type { RunStdio } from './types.js';

export interface OciRuntime {
  run(bundle: BundlePaths, id: string, stdio: RunStdio): Promise<RunningProcess>;
  delete(id: string): Promise<void>;
  /** Why the runtime could not start the container's command, from its log; undefined if it did. */
  startFailure(bundle: BundlePaths): EngineError | undefined;
}

export function runtimeLogPath(bundle: BundlePaths): string {
  return path.join(bundle.dir, 'runtime.log');
}

export function createOciRuntime(runtime: string, runRoot: string, explainer: Explainer): OciRuntime {
  const stateDir = path.join(runRoot, 'runtime', path.basename(runtime));
  return {
    async run(bundle, id, stdio) {
      fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const args = ['--root', stateDir, '--log', runtimeLogPath(bundle), '--log-format', 'json', 'run', '--keep', '--bundle', bundle.dir, id];
      explainer.step({ topic: 'process', say: `hand the bundle to the OCI runtime ${runtime}`, call: `${runtime} ${args.join(' ')}` });
      try {
        return await runProcess(runtime, args, { stdio });
      } catch (error) {
        throw new EngineError('FAILED_PRECONDITION', `run with runtime ${runtime}: cannot start it`, {
          hint: 'give --runtime the name of an installed OCI runtime (runc) or its path',
          cause: error,
        });
      }
    },
    async delete(id) {
      const child = await runProcess(runtime, ['--root', stateDir, 'delete', '--force', id], { stdio: ['ignore', 'ignore', 'ignore'] });
      await child.exited;
    },
    startFailure(bundle) {
      let text: string;
      try {
        text = fs.readFileSync(runtimeLogPath(bundle), 'utf8');
      } catch {
        return undefined;
      }
      return runtimeStartFailure(runtime, text);
    },
  };
}

/**
 * The failure in an OCI runtime's JSON log (one object a line, runc's
 * format), as the built-in launcher would report it: Docker's words and a
 * LaunchFailure cause (exec ENOENT -> 127, exec EACCES -> 126), or an
 * engine error (125) for any other failure. Undefined when the log has no error.
 */
export function runtimeStartFailure(runtime: string, logText: string): EngineError | undefined {
  let message: string | undefined;
  for (const line of logText.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && typeof entry.msg === 'string') message = entry.msg;
    } catch {
      // Not JSON: a runtime that ignores --log-format; nothing to learn from the line.
    }
  }
  if (message === undefined) return undefined;
  const exec = /exec: "([^"]*)": (executable file not found in \$PATH|stat [^:]*: no such file or directory|permission denied)/.exec(message);
  if (exec !== null) {
    const errno = exec[2] === 'permission denied' ? 13 : 2;
    return launchError(`ERR ${errno} exec ${exec[1]}`);
  }
  return new EngineError('FAILED_PRECONDITION', `run with runtime ${runtime}: ${message}`);
}
