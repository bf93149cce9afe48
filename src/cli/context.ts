/** What every command receives: the global options, an output, and the engine on demand. */
import type { Engine, EngineOptions } from '../engine/index.js';
import { createCallbackExplainer, type ExplainEvent, type Explainer } from '../common/index.js';

export interface GlobalOptions {
  root?: string;
  runRoot?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  explain: boolean;
}

export interface Output {
  readonly isTTY: boolean;
  out(text: string): void;
  err(text: string): void;
}

export interface CommandContext {
  globals: GlobalOptions;
  output: Output;
  /** The engine, created on first use (commands that do not need it never load it). */
  engine(): Promise<Engine>;
}

export function createOutput(): Output {
  // A reader that goes away (`| head`) must not kill the CLI halfway through a
  // container's life: its cleanup still has to run. Writes to a closed pipe are dropped.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  return {
    isTTY: process.stdout.isTTY === true,
    out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  };
}

/** `--explain` output: one line per kernel step, on stderr so stdout stays the container's. */
export function createExplainPrinter(output: Output): Explainer {
  const colour = process.stderr.isTTY === true;
  const dim = (s: string) => (colour ? `\x1b[2m${s}\x1b[0m` : s);
  const bold = (s: string) => (colour ? `\x1b[1m${s}\x1b[0m` : s);
  return createCallbackExplainer((event: ExplainEvent) => {
    const call = event.call === undefined ? '' : `\n    ${dim(event.call)}`;
    output.err(`${bold(`[${event.topic}]`)} ${event.say}${call}`);
  });
}

export function createContext(globals: GlobalOptions, output: Output): CommandContext {
  let engine: Promise<Engine> | undefined;
  return {
    globals,
    output,
    engine() {
      engine ??= import('../engine/index.js').then(({ createEngine }) => {
        const options: EngineOptions = { root: globals.root, runRoot: globals.runRoot };
        if (globals.explain) options.explainer = createExplainPrinter(output);
        return createEngine(options);
      });
      return engine;
    },
  };
}
