/** `rm [-f] [-v] CONTAINER...`: a running one only with -f (killed first). */
import type { CommandContext } from '../context.js';
import { eachContainer } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const engine = await ctx.engine();
  return eachContainer(ctx, operands, async (c) => void (await engine.removeContainer(c, { force: options.force === true, volumes: options.volumes === true })));
}
