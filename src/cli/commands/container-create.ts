/** `create [flags] IMAGE [COMMAND...]`: run's flags; prints the new container's id; `start` runs it. */
import type { CommandContext } from '../context.js';
import { runRequestOf } from './container-run.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const { forwardSignals: _forward, ...request } = runRequestOf(ctx, operands, options);
  const engine = await ctx.engine();
  const created = await engine.createContainer(request);
  ctx.output.out(created.id);
  return 0;
}
