import type { CommandContext } from '../context.js';
import { humanSize, parseFormat, renderTable, timeAgo, toJson } from '../format.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const history = await engine.imageHistory(operands[0]!);
  if (format === 'json') {
    ctx.output.out(toJson(history));
    return 0;
  }
  const cut = (text: string) => (options.noTrunc || text.length <= 45 ? text : `${text.slice(0, 44)}…`);
  const rows = history.map((item) => [
    item.Id === '<missing>' ? item.Id : item.Id.slice(7, 19),
    item.Created ? timeAgo(item.Created) : 'N/A',
    cut(item.CreatedBy),
    humanSize(item.Size),
    item.Comment,
  ]);
  ctx.output.out(renderTable(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows));
  return 0;
}
