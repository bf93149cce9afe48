import type { CommandContext } from '../context.js';
import { parseFormat, renderTable, toJson } from '../format.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const list = await engine.listVolumes();
  if (format === 'json') {
    ctx.output.out(toJson(list));
    return 0;
  }
  if (options.quiet) {
    if (list.length > 0) ctx.output.out(list.map((volume) => volume.Name).join('\n'));
    return 0;
  }
  ctx.output.out(renderTable(['DRIVER', 'VOLUME NAME'], list.map((volume) => [volume.Driver, volume.Name])));
  return 0;
}
