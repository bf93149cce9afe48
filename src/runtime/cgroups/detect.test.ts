import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectCgroupLayout, parseCgroupMounts } from './detect.js';

// This build machine's mountinfo (hybrid), cgroup lines plus a few others.
const HYBRID = `22 1 0:21 / / rw,relatime - ext4 /dev/vda rw
23 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

// A systemd distribution on pure v2 (optional fields present).
const PURE_V2 = `24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

// An older v1-only layout with cpu and cpuacct co-mounted and no unified mount.
const V1_COMOUNTED = `25 20 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
31 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
32 25 0:30 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
`;

const readerFor = (files: Record<string, string>) => (file: string) => files[file];

test('a hybrid machine: v1 controllers under /sys/fs/cgroup/<name>, cgroup2 at unified', () => {
  const layout = detectCgroupLayout(HYBRID, '/sys/fs/cgroup', readerFor({ '/sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n' }));
  assert.equal(layout.mode, 'hybrid');
  assert.deepEqual(layout.v1Controllers, ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids']);
  assert.equal(layout.v1Mounts.memory, '/sys/fs/cgroup/memory');
  assert.equal(layout.v1Mounts.cpuacct, '/sys/fs/cgroup/cpuacct');
  assert.equal(layout.unifiedMount, '/sys/fs/cgroup/unified');
  assert.deepEqual(layout.v2Controllers, ['hugetlb']);
  assert.deepEqual(layout.usableControllers, layout.v1Controllers);
  assert.equal('systemd' in layout.v1Mounts, false, 'a named hierarchy carries no controller');
});

test('a pure v2 machine: cgroup2 at /sys/fs/cgroup with its controllers', () => {
  const layout = detectCgroupLayout(PURE_V2, '/sys/fs/cgroup', readerFor({ '/sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n' }));
  assert.equal(layout.mode, 'v2');
  assert.equal(layout.unifiedMount, '/sys/fs/cgroup');
  assert.deepEqual(layout.v2Controllers, ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc']);
  assert.deepEqual(layout.v1Controllers, []);
  assert.deepEqual(layout.usableControllers, layout.v2Controllers);
});

test('v1 only, with co-mounted controllers sharing one mount point', () => {
  const layout = detectCgroupLayout(V1_COMOUNTED, '/sys/fs/cgroup', readerFor({}));
  assert.equal(layout.mode, 'v1');
  assert.equal(layout.unifiedMount, undefined);
  assert.equal(layout.v1Mounts.cpu, '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(layout.v1Mounts.cpuacct, '/sys/fs/cgroup/cpu,cpuacct');
  assert.deepEqual(layout.v1Controllers, ['cpu', 'cpuacct', 'memory', 'net_cls', 'net_prio']);
});

test('no cgroup mount at all is mode none, not a crash', () => {
  const layout = detectCgroupLayout('22 1 0:21 / / rw - ext4 /dev/vda rw\n', '/sys/fs/cgroup', readerFor({}));
  assert.equal(layout.mode, 'none');
  assert.deepEqual(layout.usableControllers, []);
});

test('a second cgroup2 mount elsewhere does not displace the one under the root', () => {
  const text = '90 22 0:38 / /tmp/my\\040cg rw,relatime - cgroup2 none rw\n' + HYBRID;
  const mounts = parseCgroupMounts(text);
  assert.equal(mounts[0]?.mountPoint, '/tmp/my cg', 'octal escapes are decoded');
  const layout = detectCgroupLayout(text, '/sys/fs/cgroup', readerFor({}));
  assert.equal(layout.unifiedMount, '/sys/fs/cgroup/unified');
  assert.deepEqual(layout.v2Controllers, []);
});

test('parseCgroupMounts keeps named hierarchies apart from controllers', () => {
  const systemd = parseCgroupMounts(V1_COMOUNTED).find((m) => m.name === 'systemd');
  assert.ok(systemd);
  assert.deepEqual(systemd.controllers, []);
});
