/**
 * cgroup v1: one hierarchy per controller (or per group of controllers, as
 * cpu,cpuacct on some distributions), each mounted on its own directory.
 * A container's group is the same relative path made in every hierarchy,
 * and a process joins it by being written into each one's cgroup.procs.
 */
import path from 'node:path';
import { EngineError, silentExplainer, type Explainer } from '../../common/index.js';
import { checkGroupPath, deviceRuleLine, formatBytes, isDenyAll, parseKeyValues, parseLimit, pidsMaxValue } from './convert.js';
import { CgroupFiles, killPids, readPidsBelow, removeEmptyGroup, waitUntil } from './files.js';
import type { CgroupManager, CgroupReport, CgroupResources, CgroupStats } from './types.js';

export interface V1Options {
  /** Controller -> mount point of its hierarchy (CgroupLayout.v1Mounts). */
  mounts: Record<string, string>;
  /** The engine's parent group, e.g. "didactic-container". */
  parent: string;
  /** The container's group name, usually its id. */
  name: string;
  explainer?: Explainer;
  /** How long destroy() waits for exiting tasks, in ms (default 3000). */
  drainTimeoutMs?: number;
}

/** Which controller each kind of resource needs. */
function controllersNeeded(resources: CgroupResources): string[] {
  const needed: string[] = [];
  const { memory, cpu, pids, devices } = resources;
  if ((memory?.limit ?? 0) !== 0 || (memory?.swap ?? 0) !== 0) needed.push('memory');
  if ((cpu?.shares ?? 0) !== 0 || (cpu?.quota ?? 0) !== 0 || (cpu?.period ?? 0) !== 0) needed.push('cpu');
  if (cpu?.cpus !== undefined || cpu?.mems !== undefined) needed.push('cpuset');
  if ((pids?.limit ?? 0) !== 0) needed.push('pids');
  if (devices !== undefined) needed.push('devices');
  return needed;
}

export class V1CgroupManager implements CgroupManager {
  readonly version = 'v1' as const;
  readonly path: string;
  private readonly mounts: Record<string, string>;
  private readonly parent: string;
  private readonly explainer: Explainer;
  private readonly files: CgroupFiles;
  private readonly drainTimeoutMs: number;

  constructor(options: V1Options) {
    checkGroupPath(options.parent, 'parent');
    checkGroupPath(options.name, 'name');
    this.parent = options.parent;
    this.path = `${options.parent}/${options.name}`;
    this.mounts = { ...options.mounts };
    this.explainer = options.explainer ?? silentExplainer;
    this.files = new CgroupFiles(this.explainer);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 3000;
  }

  /** Distinct hierarchy mount points with the controllers each carries. */
  private hierarchies(): Array<{ mount: string; controllers: string[] }> {
    const byMount = new Map<string, string[]>();
    for (const [controller, mount] of Object.entries(this.mounts)) byMount.set(mount, [...(byMount.get(mount) ?? []), controller]);
    return [...byMount].map(([mount, controllers]) => ({ mount, controllers: controllers.sort() }));
  }

  /** The group's directory in the hierarchy carrying `controller`, if it is mounted. */
  private dir(controller: string): string | undefined {
    const mount = this.mounts[controller];
    return mount === undefined ? undefined : path.join(mount, this.path);
  }

  private requireDir(controller: string, operation: string): string {
    const dir = this.dir(controller);
    if (dir === undefined) {
      throw new EngineError('FAILED_PRECONDITION', `${operation} cgroup ${this.path}: no cgroup v1 "${controller}" hierarchy is mounted`);
    }
    return dir;
  }

  directories(): string[] {
    return this.hierarchies().map((h) => path.join(h.mount, this.path));
  }

  procsFiles(): string[] {
    return this.directories().map((dir) => path.join(dir, 'cgroup.procs'));
  }

  async create(resources: CgroupResources = {}): Promise<CgroupReport> {
    for (const controller of controllersNeeded(resources)) this.requireDir(controller, 'create');
    try {
      for (const { mount, controllers } of this.hierarchies()) {
        let dir = mount;
        for (const segment of this.path.split('/')) {
          const parentDir = dir;
          dir = path.join(dir, segment);
          this.files.mkdir(dir, `create the ${controllers.join(',')} group ${path.relative(mount, dir)}`);
          // A new cpuset group starts with no CPUs and no memory nodes, and no
          // task can join it until both are set: copy them from the parent.
          if (controllers.includes('cpuset')) this.copyCpuset(parentDir, dir);
        }
      }
      return await this.set(resources);
    } catch (error) {
      await this.destroy().catch(() => undefined);
      throw error;
    }
  }

  private copyCpuset(parentDir: string, dir: string): void {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const current = this.files.read(path.join(dir, file)).trim();
      if (current !== '') continue;
      const inherited = this.files.read(path.join(parentDir, file)).trim();
      this.files.write(path.join(dir, file), inherited, `copy ${file} from the parent group (a cpuset group needs it before tasks can join)`);
    }
  }

  async apply(pid: number): Promise<void> {
    for (const { mount, controllers } of this.hierarchies()) {
      const file = path.join(mount, this.path, 'cgroup.procs');
      this.files.write(file, String(pid), `move process ${pid} into the ${controllers.join(',')} group`);
    }
  }

  async set(resources: CgroupResources): Promise<CgroupReport> {
    for (const controller of controllersNeeded(resources)) this.requireDir(controller, 'set');
    const warnings: string[] = [];
    this.setMemory(resources.memory, warnings);
    this.setCpu(resources.cpu);
    if (resources.pids !== undefined) {
      const value = pidsMaxValue(resources.pids.limit);
      if (value !== undefined) {
        this.files.write(path.join(this.dir('pids')!, 'pids.max'), value, value === 'max' ? 'allow any number of tasks' : `allow at most ${value} tasks`);
      }
    }
    if (resources.devices !== undefined) this.setDevices(resources.devices);
    return { warnings };
  }

  private setMemory(memory: CgroupResources['memory'], warnings: string[]): void {
    const limit = memory?.limit ?? 0;
    const swap = memory?.swap ?? 0;
    if (limit === 0 && swap === 0) return;
    const dir = this.dir('memory')!;
    const limitFile = path.join(dir, 'memory.limit_in_bytes');
    const memswFile = path.join(dir, 'memory.memsw.limit_in_bytes');
    const writeLimit = (): void => {
      if (limit !== 0) this.files.write(limitFile, String(limit < 0 ? -1 : limit), limit < 0 ? 'remove the memory limit' : `limit memory to ${formatBytes(limit)}`);
    };
    if (swap === 0) return writeLimit();
    if (swap > 0 && limit < 0) {
      throw new EngineError('INVALID_ARGUMENT', `set cgroup ${this.path}: a memory+swap limit needs a memory limit too`);
    }
    if (swap > 0 && limit > 0 && swap < limit) {
      throw new EngineError('INVALID_ARGUMENT', `set cgroup ${this.path}: memory+swap limit ${swap} is below the memory limit ${limit}`);
    }
    if (!this.files.exists(memswFile)) {
      warnings.push('swap accounting is off in this kernel (no memory.memsw.limit_in_bytes): the memory+swap limit is not enforced');
      return writeLimit();
    }
    const swapValue = swap < 0 ? -1 : swap;
    const writeMemsw = (): void =>
      this.files.write(memswFile, String(swapValue), swapValue < 0 ? 'allow unlimited swap' : `limit memory plus swap to ${formatBytes(swapValue)}`);
    // The kernel keeps memsw >= limit at every moment: raise memsw first when
    // the new memsw fits over the current limit, else lower the limit first.
    const currentLimit = parseLimit(this.files.read(limitFile));
    if (swapValue < 0 || (currentLimit !== null && swapValue >= currentLimit)) {
      writeMemsw();
      writeLimit();
    } else {
      writeLimit();
      writeMemsw();
    }
  }

  private setCpu(cpu: CgroupResources['cpu']): void {
    if (cpu === undefined) return;
    const { shares = 0, quota = 0, period = 0, cpus, mems } = cpu;
    if (shares !== 0 || quota !== 0 || period !== 0) {
      const dir = this.dir('cpu')!;
      if (shares !== 0) this.files.write(path.join(dir, 'cpu.shares'), String(shares), `give the group a CPU weight of ${shares} shares (1024 is the default)`);
      if (period > 0) this.files.write(path.join(dir, 'cpu.cfs_period_us'), String(period), `set the CPU accounting period to ${period} µs`);
      if (quota !== 0) {
        this.files.write(
          path.join(dir, 'cpu.cfs_quota_us'),
          String(quota < 0 ? -1 : quota),
          quota < 0 ? 'remove the CPU quota' : `allow ${quota} µs of CPU time per period (${(quota / (period > 0 ? period : 100_000)).toFixed(2)} CPUs)`,
        );
      }
    }
    if (cpus !== undefined) this.files.write(path.join(this.dir('cpuset')!, 'cpuset.cpus'), cpus, `run only on CPUs ${cpus}`);
    if (mems !== undefined) this.files.write(path.join(this.dir('cpuset')!, 'cpuset.mems'), mems, `use only memory nodes ${mems}`);
  }

  private setDevices(rules: NonNullable<CgroupResources['devices']>): void {
    const dir = this.dir('devices')!;
    this.files.write(path.join(dir, 'devices.deny'), 'a', 'deny access to every device, then allow the listed ones');
    let index = 0;
    while (index < rules.length && isDenyAll(rules[index]!)) index++;
    for (const rule of rules.slice(index)) {
      const line = deviceRuleLine(rule);
      const file = rule.allow ? 'devices.allow' : 'devices.deny';
      this.files.write(path.join(dir, file), line, `${rule.allow ? 'allow' : 'deny'} device ${line}`);
    }
  }

  async stats(): Promise<CgroupStats> {
    this.requireExisting('stats');
    const memoryDir = this.dir('memory');
    const cpuacctDir = this.dir('cpuacct');
    const pidsDir = this.dir('pids');
    const number = (dir: string | undefined, file: string): number | undefined => {
      if (dir === undefined) return undefined;
      const text = this.files.readOptional(path.join(dir, file));
      return text === undefined ? undefined : Number(text.trim());
    };
    const limit = (dir: string | undefined, file: string): number | null => {
      if (dir === undefined) return null;
      const text = this.files.readOptional(path.join(dir, file));
      return text === undefined ? null : parseLimit(text);
    };
    const stats: CgroupStats = {
      memory: { usage: number(memoryDir, 'memory.usage_in_bytes') ?? 0, limit: limit(memoryDir, 'memory.limit_in_bytes') },
      cpu: { usageNs: number(cpuacctDir, 'cpuacct.usage') ?? 0 },
      pids: { current: number(pidsDir, 'pids.current') ?? 0, limit: limit(pidsDir, 'pids.max') },
    };
    const maxUsage = number(memoryDir, 'memory.max_usage_in_bytes');
    if (maxUsage !== undefined) stats.memory.maxUsage = maxUsage;
    return stats;
  }

  private requireExisting(operation: string): void {
    const dirs = this.directories();
    if (dirs.length === 0 || !dirs.some((dir) => this.files.exists(dir))) {
      throw new EngineError('NOT_FOUND', `${operation} cgroup ${this.path}: no such group`);
    }
  }

  async freeze(): Promise<void> {
    await this.setFreezer('FROZEN');
  }

  async thaw(): Promise<void> {
    await this.setFreezer('THAWED');
  }

  private async setFreezer(state: 'FROZEN' | 'THAWED'): Promise<void> {
    const file = path.join(this.requireDir('freezer', state === 'FROZEN' ? 'freeze' : 'thaw'), 'freezer.state');
    const say = state === 'FROZEN' ? 'freeze every task of the group' : 'let the group run again';
    this.files.write(file, state, say);
    // FREEZING means some task has not stopped yet; writing FROZEN again retries it.
    const done = await waitUntil(() => {
      const now = this.files.read(file).trim();
      if (now === state) return true;
      if (state === 'FROZEN' && now === 'FREEZING') this.files.write(file, state, 'ask again for tasks still freezing');
      return false;
    }, 5000, 20);
    if (!done) {
      throw new EngineError('UNAVAILABLE', `${state === 'FROZEN' ? 'freeze' : 'thaw'} cgroup ${this.path}: still ${this.files.read(file).trim()} after 5s`);
    }
  }

  async oomKilled(): Promise<boolean> {
    const dir = this.dir('memory');
    if (dir === undefined) return false;
    // Kernels since 4.13 count OOM kills in memory.oom_control ("oom_kill N").
    const text = this.files.readOptional(path.join(dir, 'memory.oom_control'));
    return text !== undefined && (parseKeyValues(text).get('oom_kill') ?? 0) > 0;
  }

  /** The hierarchy used to list the group's processes: freezer, else pids, else any. */
  private listingDir(): string | undefined {
    for (const controller of ['freezer', 'pids', 'memory', 'cpu']) {
      const dir = this.dir(controller);
      if (dir !== undefined) return dir;
    }
    return this.directories()[0];
  }

  async pids(): Promise<number[]> {
    const dir = this.listingDir();
    return dir === undefined ? [] : readPidsBelow(dir);
  }

  async kill(): Promise<void> {
    if ((await this.pids()).length === 0) return;
    // Frozen tasks cannot fork while we read and signal them; they die when thawed.
    const canFreeze = this.dir('freezer') !== undefined && this.files.exists(this.dir('freezer')!);
    if (canFreeze) await this.freeze().catch(() => undefined);
    try {
      killPids(await this.pids(), this.explainer);
    } finally {
      if (canFreeze) await this.thaw().catch(() => undefined);
    }
    for (let round = 0; round < 3; round++) {
      if (await waitUntil(() => readPidsBelow(this.listingDir()!).length === 0, 1000)) return;
      killPids(await this.pids(), this.explainer);
    }
  }

  async destroy(): Promise<void> {
    const deadline = Date.now() + this.drainTimeoutMs;
    for (const { mount, controllers } of this.hierarchies()) {
      await this.files.removeTree(path.join(mount, this.path), deadline, `remove the ${controllers.join(',')} group`);
    }
  }

  /** Removes the engine's parent group in every hierarchy when no container group is left in it. */
  async removeParentIfEmpty(): Promise<boolean> {
    let removedAll = true;
    for (const { mount } of this.hierarchies()) {
      if (!(await removeEmptyGroup(this.files, path.join(mount, this.parent)))) removedAll = false;
    }
    return removedAll;
  }
}
