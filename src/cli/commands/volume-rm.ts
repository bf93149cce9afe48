import type { CommandContext } from '../context.js';

/** One report per volume: the others are still removed when one fails. */
export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const engine = await ctx.engine();
  let status = 0;
  for (const name of operands) {
    try {
      await engine.removeVolume(name, { force: options.force === true });
      ctx.output.out(name);
    } catch (error) {
      ctx.output.err(`Error: ${(error as Error).message}`);
      status = 1;
    }
  }
  return status;
}
