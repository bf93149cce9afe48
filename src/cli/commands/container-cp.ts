/**
 * `cp CONTAINER:PATH HOSTPATH` / `cp HOSTPATH CONTAINER:PATH`: files and
 * directories, with their modes, owners and times. Paths in the container
 * are resolved inside it: a symlink never leads out to the host.
 */
import type { CommandContext } from '../context.js';

export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const [source, destination] = operands;
  const engine = await ctx.engine();
  await engine.copy({ source: source!, destination: destination! });
  return 0;
}
