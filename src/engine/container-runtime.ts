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
 *
 * The engine needs the container's pid before its command runs (to put it
 * on its network), as the built-in launcher's PID/GO handshake gives. With
 * an OCI runtime that moment is a createRuntime hook (config.json's
 * `hooks`): the runtime runs it once the container's namespaces exist and
 * waits for it. Our hook is a few lines of sh:
 *
 *   runtime -> hook stdin   the state JSON (with the container's pid)
 *   hook    -> hook-state   that JSON, renamed into place whole
 *   engine  -> hook-go      "0" when the container may go on, "1" to fail it
 *
 * The hook polls for hook-go and gives up when the engine process is gone,
 * so a killed engine never leaves the runtime waiting.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError, type Explainer } from '../common/index.js';
import { launchError, runProcess, type RunningProcess } from '../sys/index.js';
import type { BundlePaths } from './container-fs.js';
import type { RunStdio } from './types.js';

export interface OciRunOptions {
  /**
   * Called with the container's host pid from the start hook, before its
   * command runs (config.json must carry startHook's hooks). Throwing fails
   * the start; run() then rejects with that error once the runtime is done.
   */
  onPid?: ((pid: number) => Promise<void>) | undefined;
}

export interface OciStarted extends RunningProcess {
  /** The container's first process (from the start hook); undefined without onPid or when it never got that far. */
  containerPid: number | undefined;
}

export interface OciRuntime {
  run(bundle: BundlePaths, id: string, stdio: RunStdio, options?: OciRunOptions): Promise<OciStarted>;
  delete(id: string): Promise<void>;
  /** Why the runtime could not start the container's command, from its log; undefined if it did. */
  startFailure(bundle: BundlePaths): EngineError | undefined;
}

export function runtimeLogPath(bundle: BundlePaths): string {
  return path.join(bundle.dir, 'runtime.log');
}

const HOOK_STATE = 'hook-state';
const HOOK_GO = 'hook-go';
const HOOK_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** How long the runtime lets the hook wait for the engine (seconds). */
const HOOK_TIMEOUT = 120;

/** An OCI hook (config.json `hooks.<stage>[]`). */
export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

const HOOK_SCRIPT = [
  'set -e',
  'dir=$1; engine=$2',
  'cat > "$dir/hook-state.tmp"',
  'mv "$dir/hook-state.tmp" "$dir/hook-state"',
  'while [ ! -e "$dir/hook-go" ]; do kill -0 "$engine" 2>/dev/null || exit 1; sleep 0.01; done',
  'exit "$(cat "$dir/hook-go")"',
].join('\n');

/** The hooks section that hands the container's pid to `run(…, { onPid })` of the engine process `enginePid`. */
export function startHook(bundle: BundlePaths, enginePid: number): { createRuntime: OciHook[] } {
  return {
    createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', HOOK_SCRIPT, 'didactic-start-hook', bundle.dir, String(enginePid)], env: [HOOK_PATH_ENV], timeout: HOOK_TIMEOUT }],
  };
}

/** Waits for the hook's state file; undefined when the runtime ended first. */
async function waitForHookState(bundle: BundlePaths, exited: Promise<unknown>): Promise<number | undefined> {
  let ended = false;
  void exited.then(() => (ended = true));
  const file = path.join(bundle.dir, HOOK_STATE);
  for (let delay = 1; ; delay = Math.min(delay * 2, 10)) {
    const wasEnded = ended;
    if (fs.existsSync(file)) {
      const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: unknown };
      if (typeof parsed.pid !== 'number' || parsed.pid <= 0) throw new EngineError('INTERNAL', `start hook of the runtime: no pid in its state ${file}`);
      return parsed.pid;
    }
    if (wasEnded) return undefined;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function releaseHook(bundle: BundlePaths, status: 0 | 1): void {
  const file = path.join(bundle.dir, HOOK_GO);
  fs.writeFileSync(`${file}.tmp`, `${status}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

export function createOciRuntime(runtime: string, runRoot: string, explainer: Explainer): OciRuntime {
  const stateDir = path.join(runRoot, 'runtime', path.basename(runtime));
  return {
    async run(bundle, id, stdio, options = {}) {
      fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const args = ['--root', stateDir, '--log', runtimeLogPath(bundle), '--log-format', 'json', 'run', '--keep', '--bundle', bundle.dir, id];
      explainer.step({ topic: 'process', say: `hand the bundle to the OCI runtime ${runtime}`, call: `${runtime} ${args.join(' ')}` });
      let child: RunningProcess;
      try {
        child = await runProcess(runtime, args, { stdio });
      } catch (error) {
        throw new EngineError('FAILED_PRECONDITION', `run with runtime ${runtime}: cannot start it`, {
          hint: 'give --runtime the name of an installed OCI runtime (runc) or its path',
          cause: error,
        });
      }
      const { onPid } = options;
      if (onPid === undefined) return { ...child, containerPid: undefined };
      let pid: number | undefined;
      try {
        pid = await waitForHookState(bundle, child.exited);
        if (pid !== undefined) {
          explainer.step({ topic: 'process', say: `the runtime's start hook reports the container's pid ${pid}; its command waits until the engine answers`, call: `read ${path.join(bundle.dir, HOOK_STATE)}` });
          await onPid(pid);
          releaseHook(bundle, 0);
        }
      } catch (error) {
        // The hook exits 1: the runtime kills the container, undoes its start and ends.
        try {
          releaseHook(bundle, 1);
        } catch {
          child.kill('SIGKILL');
        }
        await child.exited;
        throw error;
      }
      return { ...child, containerPid: pid };
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
