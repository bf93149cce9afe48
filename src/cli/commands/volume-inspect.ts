import type { CommandContext } from '../context.js';
import { toJson } from '../format.js';

/** A JSON array of the volumes found, and an error line for each one that is not. */
export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const engine = await ctx.engine();
  const found: unknown[] = [];
  let status = 0;
  for (const name of operands) {
    try {
      found.push(await engine.inspectVolume(name));
    } catch (error) {
      ctx.output.err(`Error: ${(error as Error).message}`);
      status = 1;
    }
  }
  ctx.output.out(toJson(found));
  return status;
}
