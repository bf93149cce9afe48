/** `restart [-t N] CONTAINER...`: stop (if running), then start detached. */
import type { CommandContext } from '../context.js';
import { count, eachContainer, text } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const timeout = count(options.time, '--time');
  const signal = text(options.signal);
  const engine = await ctx.engine();
  return eachContainer(ctx, operands, async (c) => void (await engine.restartContainer(c, { ...(timeout === undefined ? {} : { timeout }), ...(signal === undefined ? {} : { signal }) })));
}
