/**
 * `start [-a] [-i] CONTAINER...`: starts each detached, under its monitor.
 *
 * With -a (one container) the CLI stays with it and exits with its status:
 * - created with -t: it joins the container's terminal through the monitor's
 *   attach socket (as `attach` does), our window size goes with it; with -i
 *   also our keys, in raw mode, and Ctrl-P Ctrl-Q detaches. What the
 *   terminal showed between the start and the connection (a shell's prompt)
 *   is taken from the log first.
 * - without -t: it follows the container's log until it ends; with -i (and a
 *   container created with -i) our stdin goes into the monitor's stdin FIFO.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { resolvePaths } from '../../common/index.js';
import type { CommandContext } from '../context.js';
import { attachTerminal, withRawTerminal } from '../terminal.js';
import { eachContainer, oneContainer } from './container-each.js';

export async function run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number> {
  const engine = await ctx.engine();
  const interactive = options.interactive === true;
  if (options.attach !== true && !interactive) return eachContainer(ctx, operands, async (c) => void (await engine.startContainer(c)));
  if (operands.length !== 1) throw new Error('you cannot start and attach multiple containers at once');
  return oneContainer(ctx, async () => {
    // Only what this start writes: the log file also holds the earlier runs.
    const since = new Date(Date.now() - 1).toISOString();
    const id = await engine.startContainer(operands[0]!);
    const info = await engine.inspectContainer(id);
    const runDir = path.join(resolvePaths({ root: ctx.globals.root, runRoot: ctx.globals.runRoot }).runRoot, id);
    const socket = path.join(runDir, 'attach');
    if (info.Config.Tty && fs.existsSync(socket)) {
      for await (const chunk of engine.containerLogs(id, { since })) process.stdout.write(chunk.text);
      const how = interactive ? await withRawTerminal(() => attachTerminal(socket)) : await attachTerminal(socket, outputOnly());
      if (how === 'detached') {
        ctx.output.err('read escape sequence');
        return 0;
      }
      return engine.waitContainer(id);
    }
    const stopFeeding = interactive && info.Config.OpenStdin ? feedStdin(path.join(runDir, 'stdin')) : undefined;
    try {
      for await (const chunk of engine.containerLogs(id, { follow: true, since })) {
        (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunk.text);
      }
    } finally {
      stopFeeding?.();
    }
    return engine.waitContainer(id);
  });
}

/** -a without -i on a terminal: its output and our window size, none of our keys. */
function outputOnly() {
  const stdout = process.stdout;
  return {
    input: new PassThrough(),
    output: stdout,
    size: () => (stdout.isTTY ? { rows: stdout.rows, cols: stdout.columns } : undefined),
    onResize: (listener: () => void) => {
      stdout.on('resize', listener);
      return () => stdout.off('resize', listener);
    },
  };
}

/** Copies our stdin into the container's stdin FIFO (the monitor holds it open) until stopped. */
function feedStdin(fifo: string): (() => void) | undefined {
  if (!fs.existsSync(fifo)) return undefined;
  // O_RDWR never blocks on a FIFO, and the monitor is its reader.
  const fd = fs.openSync(fifo, fs.constants.O_RDWR);
  const onData = (chunk: Buffer) => {
    try {
      fs.writeSync(fd, chunk);
    } catch {
      // The container is gone; its end comes through the log.
    }
  };
  process.stdin.on('data', onData);
  return () => {
    process.stdin.off('data', onData);
    process.stdin.pause();
    fs.closeSync(fd);
  };
}
