import type { CommandContext } from '../context.js';
import { parseFormat, toJson } from '../format.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const report = await engine.pruneNetworks();
  if (format === 'json') {
    ctx.output.out(toJson(report));
    return 0;
  }
  if (report.NetworksDeleted.length > 0) ctx.output.out(['Deleted Networks:', ...report.NetworksDeleted].join('\n'));
  return 0;
}
