import os from 'node:os';
import { engineVersion } from '../../common/index.js';
import type { CommandContext } from '../context.js';
import { parseFormat, toJson } from '../format.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const report = {
    Version: engineVersion(),
    NodeVersion: process.version,
    Os: process.platform,
    Arch: process.arch,
    KernelVersion: os.release(),
  };
  if (parseFormat(options.format) === 'json') {
    ctx.output.out(toJson(report));
    return 0;
  }
  ctx.output.out(
    [
      `didactic-container ${report.Version}`,
      ` Node.js:  ${report.NodeVersion}`,
      ` OS/Arch:  ${report.Os}/${report.Arch}`,
      ` Kernel:   ${report.KernelVersion}`,
    ].join('\n'),
  );
  return 0;
}
