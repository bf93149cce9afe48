import type { CommandContext } from '../context.js';

export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const engine = await ctx.engine();
  await engine.tagImage(operands[0]!, operands[1]!);
  return 0;
}
