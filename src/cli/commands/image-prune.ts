import type { CommandContext } from '../context.js';
import { humanSize, parseFormat, toJson } from '../format.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const report = await engine.pruneImages();
  if (format === 'json') {
    ctx.output.out(toJson(report));
    return 0;
  }
  if (report.ImagesDeleted.length > 0) {
    ctx.output.out('Deleted Images:');
    for (const item of report.ImagesDeleted) ctx.output.out('Deleted' in item ? `deleted: ${item.Deleted}` : `untagged: ${item.Untagged}`);
    ctx.output.out('');
  }
  ctx.output.out(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}`);
  return 0;
}
