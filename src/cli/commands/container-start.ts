/**
 * `start [-a] CONTAINER...`: starts each detached, under its monitor. With
 * -a (one container): follows its log until it ends and exits with its status.
 */
import type { CommandContext } from '../context.js';
import { eachContainer, oneContainer } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const engine = await ctx.engine();
  if (options.attach !== true) return eachContainer(ctx, operands, async (c) => void (await engine.startContainer(c)));
  if (operands.length !== 1) throw new Error('you cannot start and attach multiple containers at once');
  return oneContainer(ctx, async () => {
    // Only what this start writes: the log file also holds the earlier runs.
    const since = new Date(Date.now() - 1).toISOString();
    const id = await engine.startContainer(operands[0]!);
    for await (const chunk of engine.containerLogs(id, { follow: true, since })) {
      (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunk.text);
    }
    return engine.waitContainer(id);
  });
}
