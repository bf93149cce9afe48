import type { EngineInfo } from '../../engine/index.js';
import type { CommandContext } from '../context.js';
import { parseFormat, toJson } from '../format.js';

export async function run(ctx: CommandContext, _operands: string[], options: Record<string, unknown>): Promise<number> {
  const format = parseFormat(options.format);
  const engine = await ctx.engine();
  const info = await engine.info();
  ctx.output.out(format === 'json' ? toJson(info) : renderInfo(info));
  return 0;
}

export function renderInfo(info: EngineInfo): string {
  const list = (items: string[]) => (items.length === 0 ? 'none' : items.join(', '));
  const cgroups =
    info.cgroups.mode === 'unknown'
      ? 'unknown'
      : `${info.cgroups.mode} (v1 controllers: ${list(info.cgroups.v1Controllers)}; v2${
          info.cgroups.unifiedMount ? ` at ${info.cgroups.unifiedMount}` : ''
        }: ${list(info.cgroups.v2Controllers)})`;
  const count = (value: number | null) => (value === null ? 'unknown' : String(value));
  const containers =
    info.containers === null
      ? 'unknown'
      : `${info.containers.total} (running ${info.containers.running}, paused ${info.containers.paused}, stopped ${info.containers.stopped})`;
  const lines = [
    `Engine:          didactic-container ${info.version} (node ${info.node})`,
    `Kernel:          ${info.kernel} (${info.os}/${info.arch})`,
    `Running as root: ${info.runningAsRoot ? 'yes' : 'no'}`,
    `Cgroups:         ${cgroups}`,
    `Overlayfs:       ${info.overlay.supported ? 'supported' : 'not supported'} (${info.overlay.detail})`,
    `Storage root:    ${info.storage.root}${info.storage.backingFilesystem ? ` (${info.storage.backingFilesystem})` : ''}`,
    `Run root:        ${info.storage.runRoot}`,
    `Database:        ${info.storage.database}`,
    `Images:          ${count(info.images)}`,
    `Containers:      ${containers}`,
  ];
  for (const warning of info.warnings) lines.push(`WARNING: ${warning}`);
  return lines.join('\n');
}
