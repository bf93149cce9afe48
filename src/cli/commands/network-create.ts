import { EngineError } from '../../common/index.js';
import type { CommandContext } from '../context.js';
import { parseFormat, toJson } from '../format.js';

/** Prints the new network's id, as Docker does. */
export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const driver = (options.driver as string | undefined) ?? 'bridge';
  if (driver !== 'bridge') throw new EngineError('INVALID_ARGUMENT', `network create: driver ${JSON.stringify(driver)} is not supported (only bridge)`);
  const labels: Record<string, string> = {};
  for (const label of (options.label as string[] | undefined) ?? []) {
    const eq = label.indexOf('=');
    labels[eq < 0 ? label : label.slice(0, eq)] = eq < 0 ? '' : label.slice(eq + 1);
  }
  const engine = await ctx.engine();
  const network = await engine.createNetwork({
    name: operands[0]!,
    subnet: options.subnet as string | undefined,
    gateway: options.gateway as string | undefined,
    internal: options.internal === true,
    labels,
  });
  ctx.output.out(format === 'json' ? toJson(network) : network.Id);
  return 0;
}
