import type { CommandContext } from '../context.js';
import { humanSize, parseFormat, toJson } from '../format.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const report = await engine.pruneVolumes({ all: options.all === true });
  if (format === 'json') {
    ctx.output.out(toJson(report));
    return 0;
  }
  const lines = report.VolumesDeleted.length > 0 ? ['Deleted Volumes:', ...report.VolumesDeleted, ''] : [];
  lines.push(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}`);
  ctx.output.out(lines.join('\n'));
  return 0;
}
