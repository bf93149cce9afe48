/** `top CONTAINER`: the processes of its cgroup, as the host sees them. */
import type { CommandContext } from '../context.js';
import { parseFormat, renderTable, toJson } from '../format.js';
import { oneContainer } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  return oneContainer(ctx, async () => {
    const processes = await engine.topContainer(operands[0]!);
    if (format === 'json') ctx.output.out(toJson(processes));
    else ctx.output.out(renderTable(['PID', 'USER', 'TIME', 'CMD'], processes.map((p) => [String(p.pid), p.user, p.time, p.cmd])));
    return 0;
  });
}
