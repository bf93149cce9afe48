/**
 * cgroup v2: one unified hierarchy. A container's group is one directory; a
 * controller's files appear in it only when the parent lists that controller
 * in cgroup.subtree_control, so the path from the root down is enabled first.
 *
 * Device rules are NOT applied here: v2 has no devices.allow/deny files, only
 * an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the group
 * with bpf(2), which Node cannot call. set() reports them as a warning; device
 * filtering on v2 is left to the launcher (not done yet).
 */
import path from 'node:path';
import { EngineError, silentExplainer, type Explainer } from '../../common/index.js';
import { DEFAULT_CGROUP_ROOT } from './detect.js';
import { checkGroupPath, cpuMaxValue, formatBytes, parseKeyValues, parseLimit, pidsMaxValue, sharesToWeight, swapMaxValue } from './convert.js';
import { CgroupFiles, killPids, readPidsBelow, removeEmptyGroup, waitUntil } from './files.js';
import type { CgroupManager, CgroupReport, CgroupResources, CgroupStats } from './types.js';

export interface V2Options {
  /** Where the cgroup2 hierarchy is mounted (default /sys/fs/cgroup). */
  fsRoot?: string;
  parent: string;
  name: string;
  explainer?: Explainer;
  /** How long destroy() waits for exiting tasks, in ms (default 3000). */
  drainTimeoutMs?: number;
}

/** Controllers enabled for the group whenever the hierarchy offers them, as runc does. */
const WANTED_CONTROLLERS = ['cpu', 'cpuset', 'io', 'memory', 'pids'];

export const DEVICES_V2_WARNING =
  'device rules are not enforced on cgroup v2: they need an eBPF device program attached with bpf(2), which this engine does not load yet';

function controllersNeeded(resources: CgroupResources): string[] {
  const needed: string[] = [];
  const { memory, cpu, pids } = resources;
  if ((memory?.limit ?? 0) !== 0 || (memory?.swap ?? 0) !== 0) needed.push('memory');
  if ((cpu?.shares ?? 0) !== 0 || (cpu?.quota ?? 0) !== 0 || (cpu?.period ?? 0) !== 0) needed.push('cpu');
  if (cpu?.cpus !== undefined || cpu?.mems !== undefined) needed.push('cpuset');
  if ((pids?.limit ?? 0) !== 0) needed.push('pids');
  return needed;
}

const words = (text: string | undefined): string[] => (text ?? '').split(/\s+/).filter((w) => w !== '');

export class V2CgroupManager implements CgroupManager {
  readonly version = 'v2' as const;
  readonly path: string;
  private readonly fsRoot: string;
  private readonly parent: string;
  private readonly explainer: Explainer;
  private readonly files: CgroupFiles;
  private readonly drainTimeoutMs: number;

  constructor(options: V2Options) {
    checkGroupPath(options.parent, 'parent');
    checkGroupPath(options.name, 'name');
    this.fsRoot = path.resolve(options.fsRoot ?? DEFAULT_CGROUP_ROOT);
    this.parent = options.parent;
    this.path = `${options.parent}/${options.name}`;
    this.explainer = options.explainer ?? silentExplainer;
    this.files = new CgroupFiles(this.explainer);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 3000;
  }

  private get dir(): string {
    return path.join(this.fsRoot, this.path);
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  directories(): string[] {
    return [this.dir];
  }

  procsFiles(): string[] {
    return [this.file('cgroup.procs')];
  }

  async create(resources: CgroupResources = {}): Promise<CgroupReport> {
    const available = words(this.files.read(path.join(this.fsRoot, 'cgroup.controllers')));
    for (const controller of controllersNeeded(resources)) {
      if (!available.includes(controller)) {
        throw new EngineError('FAILED_PRECONDITION', `create cgroup ${this.path}: the cgroup2 hierarchy at ${this.fsRoot} has no "${controller}" controller`, {
          hint: 'on a hybrid machine the controllers are bound to the v1 hierarchies; use the v1 manager there',
        });
      }
    }
    const needed = controllersNeeded(resources);
    const enable = WANTED_CONTROLLERS.filter((c) => available.includes(c));
    try {
      let dir = this.fsRoot;
      for (const segment of this.path.split('/')) {
        this.enableControllers(dir, enable, needed);
        dir = path.join(dir, segment);
        this.files.mkdir(dir, `create the group ${path.relative(this.fsRoot, dir)}`);
      }
      return await this.set(resources);
    } catch (error) {
      await this.destroy().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Lists the controllers in `dir`'s cgroup.subtree_control, so its child
   * groups get their files. One write per controller: a controller the
   * resources need must succeed; one only wanted (for stats) may be refused
   * (e.g. cpu while realtime tasks run) without failing the container.
   */
  private enableControllers(dir: string, controllers: string[], needed: string[]): void {
    const file = path.join(dir, 'cgroup.subtree_control');
    const enabled = words(this.files.read(file)).map((w) => w.replace(/^\+/, ''));
    const where = path.relative(this.fsRoot, dir) || 'the root';
    for (const controller of controllers.filter((c) => !enabled.includes(c))) {
      try {
        this.files.write(file, `+${controller}`, `let the groups below ${where} use the ${controller} controller`);
      } catch (error) {
        if (needed.includes(controller)) throw error;
      }
    }
  }

  async apply(pid: number): Promise<void> {
    this.files.write(this.file('cgroup.procs'), String(pid), `move process ${pid} into the group`);
  }

  async set(resources: CgroupResources): Promise<CgroupReport> {
    const warnings: string[] = [];
    const { memory, cpu, pids, devices } = resources;

    const limit = memory?.limit ?? 0;
    if (limit !== 0) this.files.write(this.file('memory.max'), limit < 0 ? 'max' : String(limit), limit < 0 ? 'remove the memory limit' : `limit memory to ${formatBytes(limit)}`);
    const swapMax = swapMaxValue(memory);
    if (swapMax !== undefined) {
      if (this.files.exists(this.file('memory.swap.max'))) {
        this.files.write(this.file('memory.swap.max'), swapMax, swapMax === 'max' ? 'allow unlimited swap' : `allow ${formatBytes(Number(swapMax))} of swap (memory+swap minus memory)`);
      } else {
        warnings.push('swap accounting is off in this kernel (no memory.swap.max): the memory+swap limit is not enforced');
      }
    }

    const weight = sharesToWeight(cpu?.shares ?? 0);
    if (weight !== undefined) this.files.write(this.file('cpu.weight'), String(weight), `give the group a CPU weight of ${weight} (from ${cpu?.shares} shares; 100 is the default)`);
    const cpuMax = cpuMaxValue(cpu);
    if (cpuMax !== undefined) this.files.write(this.file('cpu.max'), cpuMax, `allow "${cpuMax}" µs of CPU time per period`);
    if (cpu?.cpus !== undefined) this.files.write(this.file('cpuset.cpus'), cpu.cpus, `run only on CPUs ${cpu.cpus}`);
    if (cpu?.mems !== undefined) this.files.write(this.file('cpuset.mems'), cpu.mems, `use only memory nodes ${cpu.mems}`);

    const pidsMax = pids === undefined ? undefined : pidsMaxValue(pids.limit);
    if (pidsMax !== undefined) this.files.write(this.file('pids.max'), pidsMax, pidsMax === 'max' ? 'allow any number of tasks' : `allow at most ${pidsMax} tasks`);

    if (devices !== undefined && devices.length > 0) {
      this.explainer.step({ topic: 'cgroup', say: `skip ${devices.length} device rules: cgroup v2 filters devices with an eBPF program, not loaded yet` });
      warnings.push(DEVICES_V2_WARNING);
    }
    return { warnings };
  }

  async stats(): Promise<CgroupStats> {
    if (!this.files.exists(this.dir)) throw new EngineError('NOT_FOUND', `stats cgroup ${this.path}: no such group`);
    // A controller's files exist only when it is enabled for the group.
    const text = (name: string): string | undefined => this.files.readOptional(this.file(name));
    const number = (name: string): number | undefined => {
      const value = text(name);
      return value === undefined ? undefined : Number(value.trim());
    };
    const limit = (name: string): number | null => {
      const value = text(name);
      return value === undefined ? null : parseLimit(value);
    };
    const usageUsec = parseKeyValues(text('cpu.stat') ?? '').get('usage_usec') ?? 0;
    const stats: CgroupStats = {
      memory: { usage: number('memory.current') ?? 0, limit: limit('memory.max') },
      cpu: { usageNs: usageUsec * 1000 },
      pids: { current: number('pids.current') ?? 0, limit: limit('pids.max') },
    };
    const peak = number('memory.peak');
    if (peak !== undefined) stats.memory.maxUsage = peak;
    return stats;
  }

  async freeze(): Promise<void> {
    await this.setFrozen(true);
  }

  async thaw(): Promise<void> {
    await this.setFrozen(false);
  }

  private async setFrozen(frozen: boolean): Promise<void> {
    const operation = frozen ? 'freeze' : 'thaw';
    if (!this.files.exists(this.file('cgroup.freeze'))) {
      throw new EngineError('FAILED_PRECONDITION', `${operation} cgroup ${this.path}: no cgroup.freeze (the group is missing or the kernel is older than 5.2)`);
    }
    this.files.write(this.file('cgroup.freeze'), frozen ? '1' : '0', frozen ? 'freeze every task of the group' : 'let the group run again');
    // The write only asks; cgroup.events says "frozen 1" once every task has stopped.
    const want = frozen ? 1 : 0;
    const done = await waitUntil(() => parseKeyValues(this.files.read(this.file('cgroup.events'))).get('frozen') === want, 5000);
    if (!done) throw new EngineError('UNAVAILABLE', `${operation} cgroup ${this.path}: cgroup.events did not say frozen ${want} within 5s`);
  }

  async oomKilled(): Promise<boolean> {
    const text = this.files.readOptional(this.file('memory.events'));
    return text !== undefined && (parseKeyValues(text).get('oom_kill') ?? 0) > 0;
  }

  async pids(): Promise<number[]> {
    return readPidsBelow(this.dir);
  }

  async kill(): Promise<void> {
    if (readPidsBelow(this.dir).length === 0) return;
    const populated = (): boolean => readPidsBelow(this.dir).length > 0;
    if (this.files.exists(this.file('cgroup.kill'))) {
      // One write kills every task of the group and of the groups below it, forks included.
      this.files.write(this.file('cgroup.kill'), '1', 'kill every process of the group');
    } else {
      await this.freeze().catch(() => undefined);
      try {
        killPids(readPidsBelow(this.dir), this.explainer);
      } finally {
        await this.thaw().catch(() => undefined);
      }
    }
    for (let round = 0; round < 3; round++) {
      if (await waitUntil(() => !populated(), 1000)) return;
      killPids(readPidsBelow(this.dir), this.explainer);
    }
  }

  async destroy(): Promise<void> {
    await this.files.removeTree(this.dir, Date.now() + this.drainTimeoutMs, 'remove the group');
  }

  /** Removes the engine's parent group when no container group is left in it. */
  async removeParentIfEmpty(): Promise<boolean> {
    return removeEmptyGroup(this.files, path.join(this.fsRoot, this.parent));
  }
}
