/** `logs [-f] [--tail N] [-t] [--since T] [--until T] CONTAINER`: stdout to stdout, stderr to stderr. */
import type { CommandContext } from '../context.js';
import { oneContainer, text } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const tailText = text(options.tail);
  const tail = tailText === undefined || tailText === 'all' ? undefined : Number(tailText);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new Error(`invalid value for --tail: ${tailText}`);
  const engine = await ctx.engine();
  const since = text(options.since);
  const until = text(options.until);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  try {
    return await oneContainer(ctx, async () => {
      for await (const chunk of engine.containerLogs(operands[0]!, {
        follow: options.follow === true,
        timestamps: options.timestamps === true,
        signal: controller.signal,
        ...(tail === undefined ? {} : { tail }),
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until }),
      })) {
        (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunk.text);
      }
      return 0;
    });
  } finally {
    process.off('SIGINT', stop);
  }
}
