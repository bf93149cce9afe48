/**
 * `exec CONTAINER COMMAND [ARG...]`: runs a command in a running container.
 * The process exits with the command's status; 126/127 when it cannot be
 * run or is not found, 125 (or 1 for a container in the wrong state, as
 * Docker's CLI) when the engine fails. SIGINT, SIGTERM and SIGHUP are
 * forwarded to the command.
 */
import type { Engine } from '../../engine/index.js';
import type { CommandContext } from '../context.js';
import { withRawTerminal } from '../terminal.js';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const list = (value: unknown): string[] | undefined => (Array.isArray(value) ? (value as string[]) : undefined);

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const [container, ...command] = operands;
  const detach = options.detach === true;
  const request: Parameters<Engine['exec']>[0] = {
    container: container!,
    command,
    env: list(options.env),
    workdir: text(options.workdir),
    user: text(options.user),
    detach,
    tty: options.tty === true && !detach,
    privileged: options.privileged === true,
    // Without -i the command's stdin is empty, as with Docker.
    stdio: [options.interactive === true ? 'inherit' : 'ignore', 'inherit', 'inherit'],
    forwardSignals(forward) {
      const handlers = FORWARDED.map((signal) => [signal, () => forward(signal)] as const);
      for (const [signal, handler] of handlers) process.on(signal, handler);
      return () => {
        for (const [signal, handler] of handlers) process.off(signal, handler);
      };
    },
  };
  const engine = await ctx.engine();
  // -t: the join helper relays the command's terminal to ours, which goes raw meanwhile.
  const result = options.tty === true && !detach ? await withRawTerminal(() => engine.exec(request)) : await engine.exec(request);
  if (result.error !== undefined) {
    ctx.output.err(`Error: ${result.error.message}`);
    if (result.error.hint !== undefined) ctx.output.err(`hint: ${result.error.hint}`);
  }
  return result.exitCode;
}
