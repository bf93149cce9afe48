/**
 * Pure translations from OCI resource values to the strings cgroup files take.
 * Kept apart from the file writing so every rule here is unit-tested.
 */
import { EngineError } from '../../common/index.js';
import type { CgroupResources, DeviceRule } from './types.js';

/** The default CFS period, in microseconds (100 ms), used when only a quota is given. */
export const DEFAULT_CPU_PERIOD_US = 100_000;

/** v1 reports "no limit" as a huge page-aligned number (PAGE_COUNTER_MAX * page size). */
export const V1_UNLIMITED_THRESHOLD = 2 ** 62;

/**
 * cpu.shares (v1, 2..262144, default 1024) -> cpu.weight (v2, 1..10000, default 100),
 * the linear map Docker and runc use: 1 + ((shares - 2) * 9999) / 262142, rounded down.
 * Returns undefined for 0 (not set).
 */
export function sharesToWeight(shares: number): number | undefined {
  if (shares === 0) return undefined;
  const clamped = Math.min(Math.max(Math.trunc(shares), 2), 262_144);
  return 1 + Math.floor(((clamped - 2) * 9999) / 262_142);
}

/** cpu.max's value: "<quota> <period>", "max <period>" for no quota. Undefined when neither is set. */
export function cpuMaxValue(cpu: CgroupResources['cpu']): string | undefined {
  const quota = cpu?.quota ?? 0;
  const period = cpu?.period ?? 0;
  if (quota === 0 && period === 0) return undefined;
  const periodValue = period > 0 ? period : DEFAULT_CPU_PERIOD_US;
  return `${quota > 0 ? quota : 'max'} ${periodValue}`;
}

/**
 * memory.swap.max on v2 is swap alone, while OCI (and Docker's --memory-swap)
 * give memory plus swap: swap.max = swap - limit; -1 means "max". Undefined when not set.
 */
export function swapMaxValue(memory: CgroupResources['memory']): string | undefined {
  const swap = memory?.swap ?? 0;
  if (swap === 0) return undefined;
  if (swap === -1) return 'max';
  const limit = memory?.limit ?? 0;
  if (limit <= 0) {
    throw new EngineError('INVALID_ARGUMENT', 'set cgroup memory: a memory+swap limit needs a memory limit too');
  }
  if (swap < limit) {
    throw new EngineError('INVALID_ARGUMENT', `set cgroup memory: memory+swap limit ${swap} is below the memory limit ${limit}`, {
      hint: 'the swap value is memory plus swap, as with --memory-swap',
    });
  }
  return String(swap - limit);
}

/** A device rule as v1's devices.allow/devices.deny take it: "c 1:3 rwm", or "a" for every device. */
export function deviceRuleLine(rule: DeviceRule): string {
  const type = rule.type ?? 'a';
  if (type === 'a') return 'a';
  const access = rule.access ?? 'rwm';
  if (!/^[rwm]{1,3}$/.test(access)) {
    throw new EngineError('INVALID_ARGUMENT', `set cgroup devices: bad access "${access}" (want some of r, w, m)`);
  }
  const number = (value: number | undefined): string => (value === undefined || value < 0 ? '*' : String(Math.trunc(value)));
  return `${type} ${number(rule.major)}:${number(rule.minor)} ${access}`;
}

/** Whether a rule denies every device (the usual first rule of a container's list). */
export const isDenyAll = (rule: DeviceRule): boolean => !rule.allow && (rule.type ?? 'a') === 'a';

/** A pids limit as pids.max takes it; undefined for 0 (not set). */
export function pidsMaxValue(limit: number): string | undefined {
  if (limit === 0) return undefined;
  return limit < 0 ? 'max' : String(Math.trunc(limit));
}

/** Parses a limit file's value ("max", a number, v1's huge "unlimited") to a number or null. */
export function parseLimit(text: string): number | null {
  const value = text.trim();
  if (value === 'max' || value === '' || value === '-1') return null;
  const number = Number(value);
  if (!Number.isFinite(number) || number >= V1_UNLIMITED_THRESHOLD) return null;
  return number;
}

/** "key value" lines (memory.events, cpu.stat, memory.oom_control) to a map. */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && value !== '') out.set(key, Number(value));
  }
  return out;
}

/** cgroup.procs' contents to pids. */
export const parsePids = (text: string): number[] =>
  text.split('\n').map((line) => line.trim()).filter((line) => line !== '').map(Number);

/** A group name or parent must be plain path segments: no "..", no empty parts, no absolute path. */
export function checkGroupPath(relative: string, what: string): void {
  const parts = relative.split('/');
  if (relative === '' || parts.some((part) => part === '' || part === '.' || part === '..' || part.includes('\0'))) {
    throw new EngineError('INVALID_ARGUMENT', `cgroup ${what}: "${relative}" is not a relative group path`);
  }
}

/** 33554432 -> "32 MiB"; exact units only, else bytes. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && value % 1024 === 0 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value} ${units[unit]}`;
}
