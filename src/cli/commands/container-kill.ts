/** `kill [-s SIGNAL] CONTAINER...` (default SIGKILL). */
import type { CommandContext } from '../context.js';
import { eachContainer, text } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const engine = await ctx.engine();
  return eachContainer(ctx, operands, async (c) => void (await engine.killContainer(c, text(options.signal) ?? 'SIGKILL')));
}
