import type { CommandContext } from '../context.js';

export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const registry = operands[0] ?? 'docker.io';
  const engine = await ctx.engine();
  const removed = await engine.logout(registry);
  ctx.output.out(removed ? `Removing login credentials for ${registry}` : `Not logged in to ${registry}`);
  return 0;
}
