/**
 * The CLI: parses the command line against the table of commands, runs one
 * command, and is the only place that prints errors. Exit statuses follow
 * Docker: 125 when the engine fails (bad flag, unknown command, engine
 * error), otherwise what the command returns (a container's own status).
 */
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS, NOUNS, type CommandSpec, type OptionSpec } from './table.js';
import { createContext, createOutput, type GlobalOptions, type Output } from './context.js';
import { engineVersion } from '../common/index.js';

const PROGRAM = 'didactic-container';
const ENGINE_FAILURE = 125;

export async function main(argv: string[]): Promise<void> {
  const output = createOutput();
  const program = buildProgram(output, argv);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = await reportError(error, output, argv);
  }
}

/**
 * The program commander parses. Given the command line, it defines only the
 * command that line names when it names one plainly (`run`, `image ls`):
 * defining all fifty commands and their options took 10 ms of every start,
 * and a command's parsing, help and errors depend on it and its parents
 * only. Help, a misspelt command, an option before the command (`-h run`) or
 * no argv at all get the whole program, so that the listings and the
 * suggestions see every command.
 */
export function buildProgram(output: Output, argv?: string[]): Command {
  const program = new Command(PROGRAM)
    .description('A container engine that shows every kernel step it takes')
    .enablePositionalOptions()
    .option('--root <dir>', 'data root (env DIDACTIC_CONTAINER_ROOT)', process.env.DIDACTIC_CONTAINER_ROOT)
    .option('--run-root <dir>', 'runtime state root (env DIDACTIC_CONTAINER_RUN_ROOT)', process.env.DIDACTIC_CONTAINER_RUN_ROOT)
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('warn'))
    .option('--explain', 'narrate every kernel step as it happens (env DIDACTIC_EXPLAIN=1)')
    .version(lazyVersion(), '-v, --version', 'print the version and exit')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true);
  configure(program, output);

  const only = argv === undefined ? undefined : invokedCommand(argv.slice(2));
  if (only !== undefined) {
    if (only.noun === undefined) {
      define(program, only.word, only.spec, output);
    } else {
      const group = program.command(only.noun).description(NOUNS[only.noun]!);
      configure(group, output);
      define(group, only.spec.name.split(' ')[1]!, only.spec, output).aliases(only.spec.aliases ?? []);
    }
    return program;
  }

  const nouns = new Map<string, Command>();
  for (const [noun, summary] of Object.entries(NOUNS)) {
    const group = program.command(noun).description(summary);
    configure(group, output);
    nouns.set(noun, group);
  }
  for (const spec of COMMANDS) {
    const [first, verb] = spec.name.split(' ') as [string, string | undefined];
    if (verb === undefined) {
      define(program, first, spec, output);
      continue;
    }
    const group = nouns.get(first);
    if (group === undefined) throw new Error(`command table: unknown noun ${first}`);
    define(group, verb, spec, output).aliases(spec.aliases ?? []);
    for (const shortcut of spec.shortcuts ?? []) define(program, shortcut, spec, output);
  }
  return program;
}

/** Global options commander reads before the command, and whether each takes a value. */
const GLOBAL_OPTIONS: Record<string, boolean> = { '--root': true, '--run-root': true, '--log-level': true, '--explain': false };

/**
 * The command the arguments (argv without node and the script) name, read
 * the way commander will: global options, then the command's word, or a noun
 * and its verb right after it. Undefined for anything else.
 */
function invokedCommand(args: string[]): { noun?: string; word: string; spec: CommandSpec } | undefined {
  let i = 0;
  for (; i < args.length && args[i]!.startsWith('-'); i++) {
    const arg = args[i]!;
    const flag = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    const takesValue = GLOBAL_OPTIONS[flag];
    if (takesValue === undefined || (!takesValue && flag !== arg)) return undefined;
    if (takesValue && flag === arg) i++;
  }
  const word = args[i];
  if (word === undefined) return undefined;
  if (Object.hasOwn(NOUNS, word)) {
    const verb = args[i + 1];
    if (verb === undefined) return undefined;
    const spec = COMMANDS.find((candidate) => candidate.name === `${word} ${verb}` || (candidate.name.startsWith(`${word} `) && (candidate.aliases ?? []).includes(verb)));
    return spec === undefined ? undefined : { noun: word, word: verb, spec };
  }
  const spec = COMMANDS.find((candidate) => candidate.name === word || (candidate.shortcuts ?? []).includes(word));
  return spec === undefined ? undefined : { word, spec };
}

function configure(command: Command, output: Output): void {
  command.exitOverride().configureOutput({
    writeOut: (text) => output.out(text.trimEnd()),
    writeErr: (text) => output.err(text.trimEnd()),
    // Errors are printed once, by reportError.
    outputError: () => {},
  });
}

function define(parent: Command, name: string, spec: CommandSpec, output: Output): Command {
  const command = parent.command(name).description(spec.summary);
  configure(command, output);
  for (const arg of spec.args ?? []) command.argument(arg);
  for (const option of spec.options ?? []) command.addOption(toOption(option));
  command.option('--explain', 'narrate every kernel step as it happens');
  if (spec.passThrough) command.passThroughOptions();
  command.action(async (...params: unknown[]) => {
    const self = params.at(-1) as Command;
    const operands = params.slice(0, -2).flatMap((value) => (Array.isArray(value) ? value : value === undefined ? [] : [value])) as string[];
    const merged = self.optsWithGlobals();
    const globals: GlobalOptions = {
      root: merged.root as string | undefined,
      runRoot: merged.runRoot as string | undefined,
      logLevel: merged.logLevel as GlobalOptions['logLevel'],
      explain: merged.explain === true || process.env.DIDACTIC_EXPLAIN === '1',
    };
    const module = await spec.load();
    const status = await module.run(createContext(globals, output), operands, self.opts());
    process.exitCode = status ?? 0;
  });
  return command;
}

function toOption(spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  if (spec.default !== undefined) option.default(spec.default);
  return option;
}

/** Commander wants the version string up front; read package.json only when asked for it. */
function lazyVersion(): string {
  return process.argv.includes('-v') || process.argv.includes('--version') ? engineVersion() : '';
}

async function reportError(error: unknown, output: Output, argv: string[]): Promise<number> {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    if (error.code === 'commander.executeSubCommandAsync') return error.exitCode;
    output.err(`${PROGRAM}: ${describeUsageError(error, argv)}`);
    output.err(`See '${PROGRAM} --help'.`);
    return ENGINE_FAILURE;
  }
  const { EngineError, describeCauses, exitStatusFor } = await import('../common/index.js');
  const [message, ...causes] = describeCauses(error);
  output.err(`Error: ${message ?? 'unknown error'}`);
  if (error instanceof EngineError) {
    if (error.hint !== undefined) output.err(`hint: ${error.hint}`);
  } else if (error instanceof Error && error.stack !== undefined && process.env.DIDACTIC_DEBUG === '1') {
    output.err(error.stack);
  }
  for (const cause of causes) output.err(`  caused by: ${cause}`);
  return exitStatusFor(error);
}

function describeUsageError(error: CommanderError, argv: string[]): string {
  const text = error.message.replace(/^error: /, '');
  if (error.code === 'commander.unknownCommand') {
    const match = /unknown command '([^']*)'/.exec(text);
    const name = match?.[1] ?? argv[2] ?? '';
    return `'${name}' is not a ${PROGRAM} command${text.includes('Did you mean') ? ` (${text.slice(text.indexOf('Did you mean')).replace(/\n/g, ' ')})` : ''}`;
  }
  return text.replace(/\n+/g, ' ');
}
