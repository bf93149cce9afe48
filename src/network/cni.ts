/**
 * The executor of the CNI runtime side (spec 1.0): each plugin is a program
 * found by its `type` in the plugin directories, given its command in the
 * environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH)
 * and its configuration as JSON on stdin; it answers with a result (or an
 * error object {code, msg, details}) as JSON on stdout.
 *
 *   ADD    plugins in order, each given the previous one's result (prevResult);
 *          the last result is the list's result; a failure half-way is undone
 *          by a DEL of the whole list
 *   CHECK  plugins in order, each given the stored ADD result
 *   DEL    plugins in reverse order, each given the stored ADD result; every
 *          plugin is called even when an earlier one failed, errors collected
 */
import fs from 'node:fs';
import path from 'node:path';
import { EngineError, type ErrorCode, type Explainer } from '../common/index.js';
import { runCaptured } from '../sys/index.js';
import { pluginInput, pluginOrder, type RuntimeConfig } from './conflist.js';
import type { CniCommand, CniConfList, CniInvocation, CniResult } from './types.js';

/** Where Debian (and most distributions) install the plugins, then the upstream default. */
export const DEFAULT_PLUGIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

export const PLUGIN_PACKAGE_HINT = 'install the standard CNI plugins: apt-get install containernetworking-plugins (Debian/Ubuntu), or put them in /opt/cni/bin; DIDACTIC_CNI_PATH names other directories';

export interface CniOptions {
  pluginDirs: readonly string[];
  explainer: Explainer;
  /** Milliseconds one plugin may take; default 60 s. */
  timeoutMs?: number;
}

/** The plugin directories: DIDACTIC_CNI_PATH (colon-separated) or the defaults. */
export function pluginDirsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env.DIDACTIC_CNI_PATH ?? '').split(':').filter(Boolean);
  return fromEnv.length > 0 ? fromEnv : [...DEFAULT_PLUGIN_DIRS];
}

/** The path of the plugin binary `type`; FAILED_PRECONDITION naming the package when it is nowhere. */
export function findPlugin(type: string, dirs: readonly string[]): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(type)) throw new EngineError('INVALID_ARGUMENT', `cni plugin ${JSON.stringify(type)}: not a plugin name`);
  for (const dir of dirs) {
    const file = path.join(dir, type);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // Try the next directory.
    }
  }
  throw new EngineError('FAILED_PRECONDITION', `cni plugin ${type}: not found in ${dirs.join(', ')}`, { hint: PLUGIN_PACKAGE_HINT });
}

/** The engine error for a CNI error object; codes per the spec's table of well-known errors. */
export function pluginError(what: string, status: number, stdout: string, stderr: string): EngineError {
  let parsed: { code?: unknown; msg?: unknown; details?: unknown } | undefined;
  try {
    parsed = JSON.parse(stdout) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const cniCode = typeof parsed?.code === 'number' ? parsed.code : undefined;
  const msg = typeof parsed?.msg === 'string' ? parsed.msg : (stderr.trim() || stdout.trim() || `exit status ${status}`).split('\n')[0]!;
  const details = typeof parsed?.details === 'string' && parsed.details !== '' ? `: ${parsed.details}` : '';
  const map: Record<number, ErrorCode> = { 1: 'FAILED_PRECONDITION', 2: 'FAILED_PRECONDITION', 3: 'NOT_FOUND', 4: 'INVALID_ARGUMENT', 5: 'UNAVAILABLE', 6: 'INVALID_ARGUMENT', 7: 'INVALID_ARGUMENT', 11: 'UNAVAILABLE' };
  const code = cniCode === undefined ? 'INTERNAL' : (map[cniCode] ?? 'INTERNAL');
  return new EngineError(code, `${what}: ${msg}${details}${cniCode === undefined ? '' : ` (cni error ${cniCode})`}`);
}

/** Runs one plugin once; resolves with its result (ADD), or undefined (DEL, CHECK, or empty output). */
export async function invokePlugin(
  file: string,
  command: CniCommand,
  invocation: CniInvocation,
  input: Record<string, unknown>,
  options: CniOptions,
): Promise<CniResult | undefined> {
  const type = path.basename(file);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: invocation.containerId,
    CNI_NETNS: invocation.netns,
    CNI_IFNAME: invocation.ifname,
    CNI_PATH: options.pluginDirs.join(':'),
  };
  const stdin = JSON.stringify(input);
  const what = `cni ${command} ${type} on network ${String(input.name)} for ${invocation.containerId.slice(0, 12)}`;
  if (options.explainer.enabled) {
    options.explainer.step({
      topic: 'network',
      say: `call the CNI plugin ${type} (${command}) for ${invocation.ifname} in the namespace ${invocation.netns}`,
      call: `CNI_COMMAND=${command} CNI_CONTAINERID=${invocation.containerId} CNI_NETNS=${invocation.netns} CNI_IFNAME=${invocation.ifname} CNI_PATH=${env.CNI_PATH} ${file} <<< '${stdin}'`,
    });
  }
  const run = await runCaptured(file, [], { env, input: stdin, timeoutMs: options.timeoutMs ?? 60_000 }).catch((error: unknown) => {
    throw new EngineError('FAILED_PRECONDITION', `${what}: cannot start ${file}`, { hint: PLUGIN_PACKAGE_HINT, cause: error });
  });
  if (run.status !== 0) {
    const error = pluginError(what, run.status, run.stdout, run.stderr);
    if (options.explainer.enabled) options.explainer.step({ topic: 'network', say: `${type} failed: ${error.message}`, call: run.stdout.trim() || run.stderr.trim() });
    throw error;
  }
  const text = run.stdout.trim();
  if (text === '') return undefined;
  let result: CniResult;
  try {
    result = JSON.parse(text) as CniResult;
  } catch (cause) {
    throw new EngineError('INTERNAL', `${what}: the plugin's answer is not JSON`, { cause });
  }
  if (options.explainer.enabled) {
    options.explainer.step({ topic: 'network', say: `${type} answered${describeResult(result)}`, call: JSON.stringify(result) });
  }
  return result;
}

/** A short description of a result for --explain: interfaces and addresses. */
function describeResult(result: CniResult): string {
  const parts: string[] = [];
  for (const item of result.interfaces ?? []) parts.push(`${item.name}${item.sandbox === undefined ? ' (host)' : ' (container)'}${item.mac ? ` ${item.mac}` : ''}`);
  for (const ip of result.ips ?? []) parts.push(`address ${ip.address}${ip.gateway ? ` via ${ip.gateway}` : ''}`);
  return parts.length === 0 ? '' : `: ${parts.join(', ')}`;
}

/** ADD of a whole list; on failure the plugins are called with DEL (reverse order) before the error is thrown. */
export async function addNetworkList(list: CniConfList, invocation: CniInvocation, runtime: RuntimeConfig, options: CniOptions): Promise<CniResult> {
  const files = list.plugins.map((plugin) => findPlugin(plugin.type, options.pluginDirs));
  let prev: CniResult | undefined;
  try {
    for (const [index, plugin] of pluginOrder(list, 'ADD').entries()) {
      const result = await invokePlugin(files[index]!, 'ADD', invocation, pluginInput(list, plugin, runtime, prev), options);
      if (result === undefined) throw new EngineError('INTERNAL', `cni ADD ${plugin.type} on network ${list.name}: the plugin gave no result`);
      prev = result;
    }
  } catch (error) {
    await delNetworkList(list, invocation, runtime, prev, options);
    throw error;
  }
  return prev!;
}

/** CHECK of a whole list against the stored ADD result. */
export async function checkNetworkList(list: CniConfList, invocation: CniInvocation, runtime: RuntimeConfig, prevResult: CniResult, options: CniOptions): Promise<void> {
  for (const plugin of pluginOrder(list, 'CHECK')) {
    await invokePlugin(findPlugin(plugin.type, options.pluginDirs), 'CHECK', invocation, pluginInput(list, plugin, runtime, prevResult), options);
  }
}

/**
 * DEL of a whole list, in reverse order. Every plugin is called; the errors
 * are returned, not thrown, so that the caller decides (DEL is idempotent:
 * calling it again after a failure is safe).
 */
export async function delNetworkList(list: CniConfList, invocation: CniInvocation, runtime: RuntimeConfig, prevResult: CniResult | undefined, options: CniOptions): Promise<EngineError[]> {
  const errors: EngineError[] = [];
  for (const plugin of pluginOrder(list, 'DEL')) {
    try {
      await invokePlugin(findPlugin(plugin.type, options.pluginDirs), 'DEL', invocation, pluginInput(list, plugin, runtime, prevResult), options);
    } catch (error) {
      errors.push(error instanceof EngineError ? error : new EngineError('INTERNAL', `cni DEL ${plugin.type} on network ${list.name}`, { cause: error }));
    }
  }
  return errors;
}
