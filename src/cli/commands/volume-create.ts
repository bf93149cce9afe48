import { EngineError } from '../../common/index.js';
import type { CommandContext } from '../context.js';
import { parseFormat, toJson } from '../format.js';

/** Prints the volume's name, as Docker does. */
export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const driver = (options.driver as string | undefined) ?? 'local';
  if (driver !== 'local') throw new EngineError('INVALID_ARGUMENT', `create volume: driver ${JSON.stringify(driver)} is not supported (only local)`);
  const labels: Record<string, string> = {};
  for (const label of (options.label as string[] | undefined) ?? []) {
    const eq = label.indexOf('=');
    labels[eq < 0 ? label : label.slice(0, eq)] = eq < 0 ? '' : label.slice(eq + 1);
  }
  const engine = await ctx.engine();
  const volume = await engine.createVolume({ name: operands[0], labels });
  ctx.output.out(format === 'json' ? toJson(volume) : volume.Name);
  return 0;
}
