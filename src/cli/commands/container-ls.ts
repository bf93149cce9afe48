/** `ps [-a] [-q] [--filter K=V] [--no-trunc] [--format json]`, Docker's columns. */
import type { CommandContext } from '../context.js';
import { parseFormat, renderTable, timeAgo } from '../format.js';
import { commandColumn, list } from './container-each.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const found = await engine.listContainers({ all: options.all === true, filters: list(options.filter) });
  const truncate = options.trunc !== false;
  const id = (full: string) => (truncate ? full.slice(0, 12) : full);
  if (options.quiet === true) {
    if (found.length > 0) ctx.output.out(found.map((c) => id(c.Id)).join('\n'));
    return 0;
  }
  if (format === 'json') {
    // One object a line, as `docker ps --format json` prints them.
    for (const c of found) {
      ctx.output.out(
        JSON.stringify({
          Command: commandColumn(c.Command, truncate),
          CreatedAt: c.Created,
          ID: id(c.Id),
          Image: c.Image,
          Names: c.Names.join(','),
          Ports: c.Ports,
          RunningFor: timeAgo(c.Created),
          State: c.State,
          Status: c.Status,
        }),
      );
    }
    return 0;
  }
  const rows = found.map((c) => [id(c.Id), c.Image, commandColumn(c.Command, truncate), timeAgo(c.Created), c.Status, c.Ports, c.Names.join(',')]);
  ctx.output.out(renderTable(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], rows));
  return 0;
}
