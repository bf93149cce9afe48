/**
 * `run` on networks, through the CLI, as root, with the real CNI plugins:
 * a published busybox httpd answers from the host, --network none has only
 * lo, the default network gives eth0 in the bridge's subnet, containers on
 * a user network find each other by name, container:NAME shares another's
 * interfaces, and runc gets the same. Traffic stays on 127.0.0.1, on the
 * bridges' own addresses and inside the containers' namespaces. After
 * everything is removed: no veth, no iptables rule and no address lease of
 * ours is left.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/db/index.js';
import { createEngine } from '../../src/engine/index.js';
import { sharedImages } from '../helpers/images.js';
import { createTempRoot, mountsBelow, removeBridgeRules, type TempRoot } from '../helpers/tmp-root.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/didactic-container.js');
const skip = process.getuid?.() !== 0 ? 'needs root' : !fs.existsSync('/usr/lib/cni/bridge') ? 'needs containernetworking-plugins' : false;
const hasRunc = spawnSync('runc', ['--version'], { stdio: 'ignore' }).status === 0;

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

interface Background {
  name: string;
  child: ChildProcess;
  result: Promise<CliResult>;
}

/** A shell that serves "hello from NAME" on port 80 and exits 0 on SIGTERM (pid 1 ignores signals it has no handler for). */
const HTTPD = (text: string) => [
  'sh',
  '-c',
  `trap "exit 0" TERM; mkdir -p /www && echo "${text}" > /www/index.html && { httpd -f -p 80 -h /www & wait; }`,
];

let root: TempRoot;
let imageRef: string;
let counter = 0;
const background: Background[] = [];
const ourNetworks = new Set<string>();

function cliArgs(args: string[]): string[] {
  return [BIN, '--root', root.root, '--run-root', root.runRoot, ...args];
}

function collect(child: ChildProcess): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function cli(args: string[]): Promise<CliResult> {
  return collect(spawn(process.execPath, cliArgs(args), { stdio: ['ignore', 'pipe', 'pipe'] }));
}

function sh(file: string, args: string[]): CliResult {
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

function newName(): string {
  return `rn-${process.pid}-${++counter}`;
}

/** A foreground run as a child process of the test, left running. */
function runInBackground(flags: string[], command: string[], name = newName()): Background {
  const child = spawn(process.execPath, cliArgs(['run', '--name', name, ...flags, imageRef, ...command]), { stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = { name, child, result: collect(child) };
  background.push(entry);
  return entry;
}

/** Stops a background run the way a user's Ctrl-C would: SIGTERM to the CLI, which forwards it. */
async function stop(entry: Background): Promise<CliResult> {
  if (entry.child.exitCode === null && entry.child.signalCode === null) entry.child.kill('SIGTERM');
  return entry.result;
}

async function runOnce(flags: string[], command: string[]): Promise<CliResult & { name: string }> {
  const name = newName();
  return { ...(await cli(['run', '--name', name, ...flags, imageRef, ...command])), name };
}

function row(name: string): { id: string; state: string; pid: number | null } | undefined {
  const db = openDatabase(path.join(root.root, 'db.sqlite'));
  try {
    return db.prepare('SELECT id, state, pid FROM containers WHERE name = ?').get(name) as { id: string; state: string; pid: number | null } | undefined;
  } finally {
    db.close();
  }
}

interface NetworkJson {
  Name: string;
  Id: string;
  IPAM: { Config: { Subnet: string; Gateway: string }[] };
  Options: Record<string, string>;
  Containers: Record<string, { Name: string; IPv4Address: string }>;
}

async function inspectNetwork(name: string): Promise<NetworkJson> {
  const result = await cli(['network', 'inspect', name]);
  assert.equal(result.status, 0, result.stderr);
  const [network] = JSON.parse(result.stdout) as NetworkJson[];
  ourNetworks.add(network!.Options['com.docker.network.bridge.name']!);
  return network!;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function httpGet(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return response.text();
}

/** Retries a GET until the server in the container listens (or the run ended). */
async function waitForHttp(url: string, entry: Background, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await httpGet(url);
    } catch (error) {
      if (entry.child.exitCode !== null || Date.now() > deadline) {
        const ended = entry.child.exitCode !== null ? await entry.result : undefined;
        throw new Error(`no answer from ${url}: ${(error as Error).message}${ended ? `; the run ended with ${ended.status}: ${ended.stderr}` : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function waitForRunning(entry: Background, ms = 15_000): Promise<{ id: string; pid: number }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = row(entry.name);
    if (found?.state === 'running' && found.pid !== null) return { id: found.id, pid: found.pid };
    if (entry.child.exitCode !== null || Date.now() > deadline) {
      const ended = await Promise.race([entry.result, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000))]);
      throw new Error(`${entry.name} is not running (row ${found?.state}); ${ended ? `exit ${ended.status}: ${ended.stderr}` : 'timed out'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The IPv4 address of eth0 inside a container, seen from its own namespace through its pid. */
function eth0Of(pid: number): string | undefined {
  return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(sh('nsenter', ['-t', String(pid), '-n', 'ip', '-o', '-4', 'addr', 'show', 'eth0']).stdout)?.[1];
}

function inSubnet(ip: string, subnet: string): boolean {
  const [base, bits] = subnet.split('/');
  const toInt = (text: string) => text.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(base!) / size);
}

/** Nothing of a removed container on the host: veths on our bridges, iptables rules, leases. */
function assertNoNetworkLeftovers(ids: readonly string[], subnets: readonly string[]): void {
  // The default network's bridge (dctrN) may be shared with another engine root running tests at the same
  // time (each root picks the first free name); a user network's bridge (dctr-<id>) is this root's alone.
  for (const bridge of [...ourNetworks].filter((name) => name.startsWith('dctr-') && fs.existsSync(`/sys/class/net/${name}`))) {
    assert.equal(sh('ip', ['-o', 'link', 'show', 'master', bridge]).stdout.trim(), '', `veths left on ${bridge}`);
  }
  // No pinned network namespace is left: with the containers gone, their namespaces and veths are gone too.
  const pins = path.join(root.runRoot, 'netns');
  assert.deepEqual(fs.existsSync(pins) ? fs.readdirSync(pins) : [], [], 'pinned network namespaces left');
  const rules = sh('iptables-save', []).stdout;
  for (const needle of [...ids, ...subnets.map((subnet) => subnet.replace(/\.0\/\d+$/, '.'))]) {
    assert.ok(!rules.includes(needle), `iptables still mention ${needle}`);
  }
  const ipam = path.join(root.runRoot, 'cni', 'ipam');
  if (fs.existsSync(ipam)) {
    for (const network of fs.readdirSync(ipam)) {
      const leases = fs.readdirSync(path.join(ipam, network)).filter((file) => file !== 'lock' && !file.startsWith('last_reserved_ip'));
      assert.deepEqual(leases, [], `address leases left in network ${network}`);
    }
  }
  const db = openDatabase(path.join(root.root, 'db.sqlite'));
  try {
    assert.deepEqual(db.prepare('SELECT container_name FROM network_attachments').all(), [], 'attachment rows left');
  } finally {
    db.close();
  }
}

describe('run on networks', { skip }, () => {
  const ids: string[] = [];
  const subnets: string[] = [];

  before(async () => {
    root = createTempRoot('dctr-runnet-');
    imageRef = (await sharedImages()).busybox.ref;
    const pulled = await cli(['pull', '-q', imageRef]);
    assert.equal(pulled.status, 0, pulled.stderr);
  });

  after(async () => {
    for (const entry of background) {
      if (entry.child.exitCode === null && entry.child.signalCode === null) {
        entry.child.kill('SIGTERM');
        await Promise.race([entry.result, new Promise((resolve) => setTimeout(resolve, 5000))]);
        if (entry.child.exitCode === null) entry.child.kill('SIGKILL');
      }
    }
    const engine = createEngine({ root: root.root, runRoot: root.runRoot });
    try {
      const db = openDatabase(path.join(root.root, 'db.sqlite'));
      const all = db.prepare('SELECT id FROM containers').all() as { id: string }[];
      db.close();
      for (const { id } of all) await engine.detachNetworks(id).catch(() => undefined);
      for (const network of await engine.listNetworks().catch(() => [])) {
        ourNetworks.add(network.Options['com.docker.network.bridge.name']!);
        if (network.Name !== 'bridge') await engine.removeNetwork(network.Id).catch(() => undefined);
      }
    } finally {
      engine.close();
    }
    // Rules first, while the bridges still hold their names (no other root can have taken one).
    removeBridgeRules([...ourNetworks]);
    for (const bridge of ourNetworks) if (fs.existsSync(`/sys/class/net/${bridge}`)) sh('ip', ['link', 'del', bridge]);
    root.dispose();
  });

  test('a published httpd answers on 127.0.0.1 and on the bridge gateway; SIGTERM to the CLI stops it and its network is released', { timeout: 60_000 }, async () => {
    const bridge = await inspectNetwork('bridge');
    const { Subnet: subnet, Gateway: gateway } = bridge.IPAM.Config[0]!;
    // Not added to `subnets`: the default network's subnet may be another test root's too (each root picks the first free one).
    // The gateway address exists once the bridge does (with its first container); only then can a port be published on it.
    if (!fs.existsSync(`/sys/class/net/${bridge.Options['com.docker.network.bridge.name']}`)) {
      const first = await runOnce(['--rm'], ['true']);
      assert.equal(first.status, 0, first.stderr);
    }
    const [loopPort, gatewayPort] = [await freePort(), await freePort()];
    const web = runInBackground(['-p', `127.0.0.1:${loopPort}:80`, '-p', `${gateway}:${gatewayPort}:80`], HTTPD('hello from web'));
    assert.equal(await waitForHttp(`http://127.0.0.1:${loopPort}/`, web), 'hello from web\n');
    assert.equal(await httpGet(`http://${gateway}:${gatewayPort}/`), 'hello from web\n');
    const { id, pid } = await waitForRunning(web);
    ids.push(id);
    // The container itself, straight from the host over the bridge.
    const ip = eth0Of(pid);
    assert.ok(ip !== undefined && inSubnet(ip, subnet), `eth0 ${ip} in ${subnet}`);
    assert.equal(await httpGet(`http://${ip}/`), 'hello from web\n');
    assert.deepEqual(Object.values((await inspectNetwork('bridge')).Containers).map((member) => member.Name), [web.name]);

    const ended = await stop(web);
    assert.equal(ended.status, 0, ended.stderr);
    assert.equal(row(web.name)?.state, 'exited');
    assert.deepEqual((await inspectNetwork('bridge')).Containers, {});
    await assert.rejects(httpGet(`http://127.0.0.1:${loopPort}/`));
    assertNoNetworkLeftovers(ids, subnets);
    assert.deepEqual(mountsBelow(root.dir), []);
  });

  test('--network none has only lo, and it is up', async () => {
    const result = await runOnce(['--rm', '--network', 'none'], ['sh', '-c', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ip -o link']);
    assert.equal(result.status, 0, result.stderr);
    const [devices, links] = [result.stdout.split('\n').slice(0, 1), result.stdout.split('\n').slice(1).filter(Boolean)];
    assert.deepEqual(devices, ['lo'], result.stdout);
    assert.equal(links.length, 1, result.stdout);
    assert.match(links[0]!, /lo: <LOOPBACK,UP,LOWER_UP>/);
  });

  test('--network host stays in the host\'s network namespace, under both runtimes', async () => {
    const hostNetns = fs.readlinkSync('/proc/self/ns/net');
    for (const runtime of hasRunc ? [[], ['--runtime', 'runc']] : [[]]) {
      const result = await runOnce(['--rm', ...runtime, '--network', 'host'], ['readlink', '/proc/self/ns/net']);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout.trim(), hostNetns, runtime.join(' '));
    }
  });

  test('the default network gives eth0 an address of the bridge subnet; --dns and --add-host reach the /etc files', async () => {
    const result = await runOnce(['--rm', '--explain', '--dns', '10.9.9.9', '--add-host', 'db:10.1.2.3'], [
      'sh',
      '-c',
      'ip -o -4 addr show eth0; ip route | grep default; cat /etc/resolv.conf; grep db /etc/hosts; grep "$(hostname)" /etc/hosts',
    ]);
    assert.equal(result.status, 0, result.stderr);
    const { Subnet: subnet, Gateway: gateway } = (await inspectNetwork('bridge')).IPAM.Config[0]!;
    const ip = /eth0\s+inet (\d+\.\d+\.\d+\.\d+)\//.exec(result.stdout)?.[1];
    assert.ok(ip !== undefined && inSubnet(ip, subnet), `${result.stdout} (subnet ${subnet})`);
    assert.match(result.stdout, new RegExp(`default via ${gateway.replace(/\./g, '\\.')} dev eth0`));
    assert.match(result.stdout, /^nameserver 10\.9\.9\.9$/m);
    assert.doesNotMatch(result.stdout, /^nameserver (?!10\.9\.9\.9)/m);
    assert.match(result.stdout, /^10\.1\.2\.3\tdb$/m);
    assert.ok(result.stdout.includes(`${ip}\t`), `its own name at its address:\n${result.stdout}`);
    // --explain told each plugin call, the join and the leave; without -p only bridge runs, and no iptables.
    for (const pattern of [/CNI_COMMAND=ADD .*\/bridge <<</, /joined network bridge: eth0 /, /CNI_COMMAND=DEL .*\/bridge <<</, /left network bridge/]) {
      assert.match(result.stderr, pattern);
    }
    for (const pattern of [/\/portmap <<</, /\/firewall <<</, /iptables/]) assert.doesNotMatch(result.stderr, pattern);
    // The launcher's helper made the namespace first, and the container was cloned into it (no CLONE_NEWNET of its own).
    const made = result.stderr.indexOf('unshare(CLONE_NEWNET)');
    const clone = /clone\(([A-Z_|]+)\|CLONE_PARENT/.exec(result.stderr);
    assert.ok(made >= 0 && clone !== null && made < clone.index, 'the namespace is made before the clone');
    assert.doesNotMatch(clone[1]!, /CLONE_NEWNET/);
  });

  test('on the default network, containers without -p reach the gateway and each other, and add no iptables rule', { timeout: 60_000 }, async () => {
    const { Gateway: gateway } = (await inspectNetwork('bridge')).IPAM.Config[0]!;
    const srv = runInBackground([], HTTPD('hello from the default network'));
    const { id, pid } = await waitForRunning(srv);
    ids.push(id);
    const srvIp = eth0Of(pid);
    assert.ok(srvIp !== undefined, 'srv has eth0');
    const rules = sh('iptables-save', []).stdout;
    assert.ok(!rules.includes(id), `a rule names the container:\n${rules}`);
    assert.doesNotMatch(rules, new RegExp(`(^|[^0-9.])${srvIp.replace(/\./g, '\\.')}([^0-9]|$)`, 'm'), 'a rule names its address');
    const deadline = Date.now() + 10_000;
    while (sh('nsenter', ['-t', String(pid), '-n', 'sh', '-c', 'cat /proc/net/tcp /proc/net/tcp6 | grep -q ":0050 0*:0000 0A"']).status !== 0) {
      assert.ok(Date.now() < deadline, 'httpd in srv listens');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const client = await runOnce(['--rm'], ['sh', '-c', `ping -c 1 -W 3 ${gateway} >/dev/null && echo gateway; wget -qO- http://${srvIp}/`]);
    assert.equal(client.status, 0, client.stderr);
    assert.equal(client.stdout, 'gateway\nhello from the default network\n');
    const ended = await stop(srv);
    assert.equal(ended.status, 0, ended.stderr);
    assertNoNetworkLeftovers(ids, subnets);
  });

  test('bad network flags exit 125 before anything is made', async () => {
    const unknown = await runOnce([], ['true']);
    assert.equal(unknown.status, 0, unknown.stderr);
    for (const [flags, message] of [
      [['--network', 'no-such-net'], /network no-such-net not found/],
      [['-p', '80:99999'], /out of range/],
      [['--add-host', 'nocolon'], /--add-host|add-host/],
      [['--dns', 'dns.example'], /invalid --dns "dns\.example"/],
      [['--network', 'container:nobody'], /no such container: nobody/],
    ] as [string[], RegExp][]) {
      const result = await runOnce(flags, ['true']);
      assert.equal(result.status, 125, `${flags.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(row(result.name), undefined, `${flags.join(' ')} made a row`);
    }
    const publishedNone = await runOnce(['--rm', '--network', 'none', '-p', '80'], ['true']);
    assert.equal(publishedNone.status, 0);
    assert.match(publishedNone.stderr, /WARNING: published ports are discarded with --network none/);
  });

  test('two containers on a user network reach each other by name and by alias; container:NAME shares the interfaces', { timeout: 60_000 }, async () => {
    const netName = `rnnet-${process.pid}`;
    const created = await cli(['network', 'create', netName]);
    assert.equal(created.status, 0, created.stderr);
    const network = await inspectNetwork(netName);
    subnets.push(network.IPAM.Config[0]!.Subnet);

    const srv = runInBackground(['--network', netName, '--network-alias', 'web'], HTTPD('hello from srv'));
    const { id, pid } = await waitForRunning(srv);
    ids.push(id);
    const srvIp = eth0Of(pid);
    assert.ok(srvIp !== undefined && inSubnet(srvIp, network.IPAM.Config[0]!.Subnet), `srv eth0 ${srvIp}`);
    // Wait for httpd inside srv's namespace (busybox httpd listens on [::]:80, in tcp6).
    const deadline = Date.now() + 10_000;
    while (sh('nsenter', ['-t', String(pid), '-n', 'sh', '-c', 'cat /proc/net/tcp /proc/net/tcp6 | grep -q ":0050 0*:0000 0A"']).status !== 0) {
      assert.ok(Date.now() < deadline, 'httpd in srv listens');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const byName = await runOnce(['--network', netName], ['sh', '-c', `wget -qO- http://${srv.name}/ && wget -qO- http://web/ && grep -c "${srv.name}" /etc/hosts`]);
    assert.equal(byName.status, 0, byName.stderr);
    assert.equal(byName.stdout, 'hello from srv\nhello from srv\n1\n');
    ids.push(row(byName.name)!.id);

    // Its hosts file knew the client while the client ran, and forgot it after.
    const srvHosts = path.join(root.root, 'containers', id, 'hosts');
    assert.ok(!fs.readFileSync(srvHosts, 'utf8').includes(byName.name), 'the ended client is gone from srv\'s /etc/hosts');

    // As Docker: srv's interfaces, and its hostname, /etc/hosts (its alias there) and resolv.conf.
    const shared = await runOnce(['--rm', '--network', `container:${srv.name}`], ['sh', '-c', 'hostname; grep -c " web " /etc/hosts; ip -o -4 addr show eth0; wget -qO- http://127.0.0.1/']);
    assert.equal(shared.status, 0, shared.stderr);
    const [sharedHostname, aliasLines] = shared.stdout.split('\n');
    assert.equal(sharedHostname, id.slice(0, 12));
    assert.equal(aliasLines, '1');
    assert.ok(shared.stdout.includes(`inet ${srvIp}/`), shared.stdout);
    assert.ok(shared.stdout.endsWith('hello from srv\n'), shared.stdout);
    const conflicting = await runOnce(['--rm', '--network', `container:${srv.name}`, '-h', 'other'], ['true']);
    assert.equal(conflicting.status, 125);
    assert.match(conflicting.stderr, /conflicting options: hostname and the network mode/);

    if (hasRunc) {
      const viaRunc = await runOnce(['--rm', '--runtime', 'runc', '--network', `container:${srv.name}`], ['sh', '-c', 'ip -o -4 addr show eth0; wget -qO- http://127.0.0.1/']);
      assert.equal(viaRunc.status, 0, viaRunc.stderr);
      assert.ok(viaRunc.stdout.includes(`inet ${srvIp}/`) && viaRunc.stdout.endsWith('hello from srv\n'), viaRunc.stdout);
    }

    const inUse = await cli(['network', 'rm', netName]);
    assert.notEqual(inUse.status, 0);
    assert.match(inUse.stderr, /in use by 1 container/);

    const ended = await stop(srv);
    assert.equal(ended.status, 0, ended.stderr);
    const removed = await cli(['network', 'rm', netName]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.ok(!fs.existsSync(`/sys/class/net/${network.Options['com.docker.network.bridge.name']}`), 'bridge of the user network deleted');
    assertNoNetworkLeftovers(ids, subnets);
  });

  test('runc gets the same networks: eth0 on the default network with a published port, only lo with --network none', { timeout: 60_000, skip: hasRunc ? false : 'runc is not installed' }, async () => {
    const { Subnet: subnet } = (await inspectNetwork('bridge')).IPAM.Config[0]!;
    const port = await freePort();
    const web = runInBackground(['--runtime', 'runc', '-p', `127.0.0.1:${port}:80`], HTTPD('hello from runc'));
    assert.equal(await waitForHttp(`http://127.0.0.1:${port}/`, web), 'hello from runc\n');
    const { id, pid } = await waitForRunning(web);
    ids.push(id);
    // The row's pid is the container's own (from the start hook), not runc's.
    assert.equal(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'sh');
    const ip = eth0Of(pid);
    assert.ok(ip !== undefined && inSubnet(ip, subnet), `eth0 ${ip} in ${subnet}`);
    const ended = await stop(web);
    assert.equal(ended.status, 0, ended.stderr);

    const none = await runOnce(['--rm', '--runtime', 'runc', '--network', 'none'], ['sh', '-c', 'ip -o link']);
    assert.equal(none.status, 0, none.stderr);
    const links = none.stdout.trim().split('\n');
    assert.equal(links.length, 1, none.stdout);
    assert.match(links[0]!, /lo: <LOOPBACK,UP,LOWER_UP>/);
    assertNoNetworkLeftovers(ids, subnets);
    assert.deepEqual(mountsBelow(root.dir), []);
  });

  test('a network failure at start (port taken meanwhile) fails the run with 125 and leaves nothing, under both runtimes', { timeout: 60_000 }, async () => {
    for (const runtime of hasRunc ? [[], ['--runtime', 'runc']] : [[]]) {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
      const busy = (server.address() as net.AddressInfo).port;
      try {
        const result = await runOnce([...runtime, '-p', `127.0.0.1:${busy}:80`], ['true']);
        assert.equal(result.status, 125, result.stderr);
        assert.match(result.stderr, new RegExp(`127\\.0\\.0\\.1:${busy}/tcp: port is already in use`));
        const found = row(result.name);
        assert.equal(found?.state, 'exited');
        ids.push(found!.id);
      } finally {
        server.close();
      }
    }
    assertNoNetworkLeftovers(ids, subnets);
    assert.deepEqual(mountsBelow(root.dir), []);
  });
});
