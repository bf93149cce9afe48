import type { CommandContext } from '../context.js';
import { parseFormat, renderTable, toJson } from '../format.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const list = await engine.listNetworks();
  if (format === 'json') {
    ctx.output.out(toJson(list));
    return 0;
  }
  const id = (full: string) => (options.noTrunc ? full : full.slice(0, 12));
  if (options.quiet) {
    ctx.output.out(list.map((network) => id(network.Id)).join('\n'));
    return 0;
  }
  const rows = list.map((network) => [
    id(network.Id),
    network.Name,
    network.Driver,
    network.IPAM.Config.map((config) => config.Subnet).join(','),
    network.Options['com.docker.network.bridge.name'] ?? '',
    String(Object.keys(network.Containers).length),
  ]);
  ctx.output.out(renderTable(['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'BRIDGE', 'CONTAINERS'], rows));
  return 0;
}
