import type { CommandContext } from '../context.js';
import { printInspected } from '../format.js';

/** A JSON array of the volumes found, and an error line for each one that is not. */
export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const engine = await ctx.engine();
  return printInspected(ctx.output, operands, (name) => engine.inspectVolume(name));
}
