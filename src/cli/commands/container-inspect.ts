/**
 * `inspect CONTAINER...`: a JSON array, Docker's shape; unknown ones are
 * reported and make it exit 1. A word that names no container but an image
 * shows the image (Docker's top-level inspect does both).
 */
import type { CommandContext } from '../context.js';
import { toJson } from '../format.js';

export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const engine = await ctx.engine();
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const operand of operands) {
    try {
      found.push(await engine.inspectContainer(operand));
    } catch (error) {
      const image = (error as { code?: string }).code === 'NOT_FOUND' ? await engine.inspectImage(operand).catch(() => undefined) : undefined;
      if (image !== undefined) found.push(image);
      else errors.push((error as Error).message);
    }
  }
  ctx.output.out(toJson(found));
  for (const message of errors) ctx.output.err(`Error: ${message}`);
  return errors.length > 0 ? 1 : 0;
}
