/** `pause CONTAINER...`: every process frozen (cgroup freezer). */
import type { CommandContext } from '../context.js';
import { eachContainer } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const engine = await ctx.engine();
  return eachContainer(ctx, operands, async (c) => void (await engine.pauseContainer(c)));
}
