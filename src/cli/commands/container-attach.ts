/**
 * `attach CONTAINER`: back to the terminal of a running container started
 * with -t (`run -dit`, `create -it` + `start`). Our terminal goes into raw
 * mode; Ctrl-P Ctrl-Q detaches and leaves the container running (exit 0).
 * When the container ends, attach exits with its status, as Docker's does.
 *
 * The monitor serves the terminal on <run-root>/<id>/attach (protocol:
 * src/cli/terminal.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { resolvePaths } from '../../common/index.js';
import type { CommandContext } from '../context.js';
import { attachTerminal, withRawTerminal } from '../terminal.js';

export async function run(ctx: CommandContext, operands: string[]): Promise<number> {
  const name = operands[0]!;
  const engine = await ctx.engine();
  const info = await engine.inspectContainer(name);
  if (!info.State.Running) {
    ctx.output.err('Error: You cannot attach to a stopped container, start it first');
    return 1;
  }
  const socket = path.join(resolvePaths({ root: ctx.globals.root, runRoot: ctx.globals.runRoot }).runRoot, info.Id, 'attach');
  if (!info.Config.Tty || !fs.existsSync(socket)) {
    ctx.output.err(`Error: attach to container ${name}: it has no terminal (attach works with containers started with -t)`);
    return 1;
  }
  const how = await withRawTerminal(() => attachTerminal(socket));
  if (how === 'detached') {
    ctx.output.err('read escape sequence');
    return 0;
  }
  return engine.waitContainer(info.Id);
}
