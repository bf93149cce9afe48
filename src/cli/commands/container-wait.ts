/** `wait CONTAINER...`: blocks until each has ended and prints its exit code. */
import type { CommandContext } from '../context.js';
import { eachContainer } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const engine = await ctx.engine();
  return eachContainer(ctx, operands, async (c) => String(await engine.waitContainer(c)));
}
