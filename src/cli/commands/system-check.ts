import type { CommandContext } from '../context.js';
import { parseFormat, toJson } from '../format.js';

/** `check`: re-hashes every blob and checks every layer directory the database names. */
export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const report = await engine.checkStore({ repair: options.repair === true });
  const healthy = report.blobs.bad.length === 0 && report.layers.missing.length === 0;
  if (format === 'json') ctx.output.out(toJson({ ...report, healthy }));
  else {
    ctx.output.out(`blobs:  ${report.blobs.ok} ok, ${report.blobs.bad.length} bad`);
    for (const bad of report.blobs.bad) ctx.output.out(`  bad blob ${bad.name}: ${bad.reason}`);
    ctx.output.out(`layers: ${report.layers.ok} ok, ${report.layers.missing.length} missing`);
    for (const missing of report.layers.missing) ctx.output.out(`  missing layer ${missing}`);
  }
  return healthy ? 0 : 1;
}
