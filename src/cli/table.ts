/**
 * The one table of commands. Each entry says how the command is spelled and
 * which options it takes; its behaviour lives in commands/<noun>-<verb>.ts and
 * is loaded only when that command runs, so start-up parses this table and
 * nothing else.
 *
 * A command named "noun verb" lives under its noun (`image ls`); `shortcuts`
 * adds Docker's top-level spellings (`images`), `aliases` the other verbs the
 * noun accepts (`image list`).
 */
import type { CommandContext } from './context.js';

export interface OptionSpec {
  flags: string;
  description: string;
  default?: string | boolean | string[];
  /** Repeatable option (`-e A -e B`): values are collected into an array. */
  repeatable?: boolean;
}

export interface CommandModule {
  run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number | void>;
}

export interface CommandSpec {
  name: string;
  summary: string;
  aliases?: string[];
  shortcuts?: string[];
  /** Commander argument syntax, e.g. ['<image>', '[command...]']. */
  args?: string[];
  options?: OptionSpec[];
  /** Options after the first operand belong to the container's command (`run IMAGE ls -la`). */
  passThrough?: boolean;
  load(): Promise<CommandModule>;
}

export const NOUNS: Record<string, string> = {
  image: 'Manage images',
  container: 'Manage containers',
};

const FORMAT: OptionSpec = { flags: '--format <format>', description: 'output format: table or json' };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'version',
    summary: 'Show the engine version',
    options: [FORMAT],
    load: () => import('./commands/system-version.js'),
  },
  {
    name: 'info',
    summary: 'Show what this machine offers: kernel, cgroups, overlayfs, storage, counts',
    options: [FORMAT],
    load: () => import('./commands/system-info.js'),
  },
];
