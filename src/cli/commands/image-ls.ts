import type { CommandContext } from '../context.js';
import { humanSize, parseFormat, renderTable, timeAgo, toJson } from '../format.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const list = await engine.listImages();
  if (format === 'json') {
    ctx.output.out(toJson(list));
    return 0;
  }
  const rows: string[][] = [];
  for (const image of list) {
    const id = options.noTrunc ? image.Id : image.Id.slice(7, 19);
    if (options.quiet) {
      rows.push([id]);
      continue;
    }
    const names = image.RepoTags.length > 0 ? image.RepoTags : ['<none>:<none>'];
    for (const name of names) {
      const colon = name.lastIndexOf(':');
      const created = image.Created ? timeAgo(image.Created) : 'N/A';
      rows.push([name.slice(0, colon), name.slice(colon + 1), id, created, humanSize(image.Size)]);
    }
  }
  if (options.quiet) ctx.output.out([...new Set(rows.map((row) => row[0]!))].join('\n') || '');
  else ctx.output.out(renderTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows));
  return 0;
}
