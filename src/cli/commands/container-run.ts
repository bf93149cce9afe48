/**
 * `run IMAGE [COMMAND [ARG...]]` in the foreground. The process exits with
 * the container's own status; 125 when the engine fails, 126/127 when the
 * command cannot be invoked or is not found (Docker's convention).
 * SIGINT, SIGTERM and SIGHUP sent to the CLI are forwarded to the container.
 */
import type { RunRequest } from '../../engine/index.js';
import type { CommandContext } from '../context.js';
import { withRawTerminal } from '../terminal.js';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const list = (value: unknown): string[] | undefined => (Array.isArray(value) ? (value as string[]) : undefined);

/** The engine's request from run's (and create's) operands and flags. */
export function runRequestOf(ctx: CommandContext, operands: string[], options: Record<string, unknown>): RunRequest {
  const [image, ...command] = operands;
  // The network flags beyond --network ride on the request object (the engine reads them by name).
  const networkFlags = {
    publish: list(options.publish),
    addHost: list(options.addHost),
    networkAlias: list(options.networkAlias),
    dns: list(options.dns),
    publishAll: options.publishAll === true,
  };
  const request: RunRequest = {
    ...networkFlags,
    image: image!,
    command,
    name: text(options.name),
    env: list(options.env),
    envFile: list(options.envFile),
    workdir: text(options.workdir),
    user: text(options.user),
    entrypoint: text(options.entrypoint),
    hostname: text(options.hostname),
    rm: options.rm === true,
    readOnly: options.readOnly === true,
    interactive: options.interactive === true,
    tty: options.tty === true,
    network: text(options.network),
    capAdd: list(options.capAdd),
    capDrop: list(options.capDrop),
    privileged: options.privileged === true,
    securityOpt: list(options.securityOpt),
    memory: text(options.memory),
    memorySwap: text(options.memorySwap),
    cpus: text(options.cpus),
    cpuShares: text(options.cpuShares),
    cpusetCpus: text(options.cpusetCpus),
    pidsLimit: text(options.pidsLimit),
    runtime: text(options.runtime),
    volumes: list(options.volume),
    mounts: list(options.mount),
    tmpfs: list(options.tmpfs),
    volumesFrom: list(options.volumesFrom),
    forwardSignals(forward) {
      const handlers = FORWARDED.map((signal) => [signal, () => forward(signal)] as const);
      for (const [signal, handler] of handlers) process.on(signal, handler);
      return () => {
        for (const [signal, handler] of handlers) process.off(signal, handler);
      };
    },
    restart: text(options.restart),
    stopSignal: text(options.stopSignal),
    stopTimeout: options.stopTimeout === undefined ? undefined : Number(options.stopTimeout),
    onWarning: (message) => ctx.output.err(`WARNING: ${message}`),
  };
  return request;
}

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const request = runRequestOf(ctx, operands, options);
  if (options.detach === true) {
    // -d: the container lives on under its monitor; print its id and return at once.
    const { forwardSignals: _forward, ...detached } = request;
    const started = await (await ctx.engine()).runDetached(detached);
    if (started.error !== undefined) {
      ctx.output.err(`Error: ${started.error.message}`);
      if (started.error.hint !== undefined) ctx.output.err(`hint: ${started.error.hint}`);
      return started.exitCode;
    }
    ctx.output.out(started.id);
    return 0;
  }
  if (request.restart !== undefined && request.restart !== 'no') ctx.output.err('WARNING: --restart is carried out by the monitor of a detached container (run -d); this foreground run is not restarted');
  const engine = await ctx.engine();
  // -t: the launcher relays the container's terminal to ours, which goes raw meanwhile.
  const result = options.tty === true ? await withRawTerminal(() => engine.run(request)) : await engine.run(request);
  if (result.error !== undefined) {
    ctx.output.err(`Error: ${result.error.message}`);
    if (result.error.hint !== undefined) ctx.output.err(`hint: ${result.error.hint}`);
  }
  return result.exitCode;
}
