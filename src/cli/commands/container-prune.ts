/** `container prune`: removes every container that is not running. */
import type { CommandContext } from '../context.js';
import { parseFormat, toJson } from '../format.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const report = await engine.pruneContainers();
  if (format === 'json') {
    ctx.output.out(toJson(report));
    return 0;
  }
  if (report.ContainersDeleted.length > 0) ctx.output.out(['Deleted Containers:', ...report.ContainersDeleted, ''].join('\n'));
  ctx.output.out(`Total reclaimed space: ${report.SpaceReclaimed}B`);
  return 0;
}
