/** `rename CONTAINER NEW_NAME`. */
import type { CommandContext } from '../context.js';
import { oneContainer } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const [container, name] = operands as [string, string];
  const engine = await ctx.engine();
  return oneContainer(ctx, async () => {
    await engine.renameContainer(container, name);
    return 0;
  });
}
