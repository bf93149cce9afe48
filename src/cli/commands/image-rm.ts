import type { CommandContext } from '../context.js';

/** One report per image, like Docker: the others are still removed when one fails. */
export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const engine = await ctx.engine();
  let status = 0;
  for (const ref of operands) {
    try {
      for (const report of await engine.removeImage(ref, { force: options.force === true })) {
        ctx.output.out('Untagged' in report ? `Untagged: ${report.Untagged}` : `Deleted: ${report.Deleted}`);
      }
    } catch (error) {
      ctx.output.err(`Error: ${(error as Error).message}`);
      status = 1;
    }
  }
  return status;
}
