/**
 * Networking through the real CNI plugins, as root, without the run
 * command: "containers" are network namespaces this test creates
 * (`ip netns add dctr-test-<pid>-N`) with busybox processes inside. Traffic
 * stays on 127.0.0.1 and inside those namespaces. A network's NAT and
 * FORWARD rules are made with it and go with it; a container without
 * published ports adds no rule. After everything is detached and removed,
 * `ip link`, `iptables-save` and the host-local store must hold nothing of ours.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRecordingExplainer, isEngineError } from '../../src/common/index.js';
import { networks } from '../../src/db/index.js';
import { createEngine, type Engine } from '../../src/engine/index.js';
import { connectContainer, detachNetworks, planRunNetwork } from '../../src/engine/network.js';
import { createEngineState } from '../../src/engine/state.js';
import { resolvePaths, silentExplainer } from '../../src/common/index.js';
import { addNetworkList, addressOf, planLegacyConfList, pluginDirsFromEnv } from '../../src/network/index.js';
import { createTempRoot, removeBridgeRules, type TempRoot } from '../helpers/tmp-root.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : !fs.existsSync('/usr/lib/cni/bridge') ? 'needs containernetworking-plugins' : false;

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/didactic-container.js');
const NS = (n: number) => `dctr-test-${process.pid}-${n}`;
const newId = () => randomBytes(32).toString('hex');

function sh(file: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

function inNs(ns: number, script: string) {
  return sh('ip', ['netns', 'exec', NS(ns), '/bin/sh', '-c', script]);
}

async function httpGet(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return response.text();
}

/** The iptables-save lines carrying a bridge's comment (the rules the engine made for its network). */
function rulesOf(bridge: string): string[] {
  return sh('iptables-save', []).stdout.split('\n').filter((line) => line.includes(`--comment "didactic-container ${bridge}"`));
}

/** True when iptables-save's text names this address (as a whole address, not a prefix of another). */
function namesIp(rules: string, ip: string): boolean {
  return new RegExp(`(^|[^0-9.])${ip.replace(/\./g, '\\.')}([^0-9]|$)`, 'm').test(rules);
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('CNI networking', { skip }, () => {
  let root: TempRoot;
  let engine: Engine;
  const explainer = createRecordingExplainer();
  const namespaces: number[] = [];
  const processes: ChildProcess[] = [];
  const bridges = new Set<string>();
  const containerIds: string[] = [];
  let www: string;

  before(() => {
    root = createTempRoot('dctr-net-');
    engine = createEngine({ root: root.root, runRoot: root.runRoot, explainer });
    www = path.join(root.dir, 'www');
    fs.mkdirSync(www);
    fs.writeFileSync(path.join(www, 'index.html'), 'hello from a namespace\n');
  });

  after(async () => {
    for (const child of processes) if (child.exitCode === null) child.kill('SIGKILL');
    for (const id of containerIds) await engine.detachNetworks(id).catch(() => undefined);
    for (const network of await engine.listNetworks().catch(() => [])) {
      if (network.Name !== 'bridge') await engine.removeNetwork(network.Id).catch(() => undefined);
      bridges.add(network.Options['com.docker.network.bridge.name']!);
    }
    for (const n of namespaces) sh('ip', ['netns', 'del', NS(n)]);
    engine.close();
    // Rules first, while the bridges still hold their names (no other root can have taken one).
    removeBridgeRules([...bridges]);
    for (const bridge of bridges) if (fs.existsSync(`/sys/class/net/${bridge}`)) sh('ip', ['link', 'del', bridge]);
    root.dispose();
  });

  function addNamespace(n: number): string {
    const result = sh('ip', ['netns', 'add', NS(n)]);
    assert.equal(result.status, 0, result.stderr);
    namespaces.push(n);
    return `/run/netns/${NS(n)}`;
  }

  function startHttpd(n: number): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', NS(n), '/bin/busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
    processes.push(child);
    return child;
  }

  function hostsFile(name: string): string {
    const file = path.join(root.dir, `${name}.hosts`);
    fs.writeFileSync(file, `127.0.0.1\tlocalhost\n127.0.1.1\t${name}\n`);
    return file;
  }

  test('two namespaces on a user network: ping, HTTP by IP and by name, published port on 127.0.0.1 and the gateway, then nothing left', async () => {
    const network = await engine.createNetwork({ name: `nettest-${process.pid}` });
    const bridge = network.Options['com.docker.network.bridge.name']!;
    bridges.add(bridge);
    assert.match(bridge, /^dctr-[0-9a-f]{8}$/);
    assert.equal(network.Driver, 'bridge');
    assert.equal(network.IPAM.Config.length, 1);
    const { Subnet: subnet, Gateway: gateway } = network.IPAM.Config[0]!;
    const subnetPrefix = subnet.split('.').slice(0, 3).join('.') + '.';

    const [idA, idB] = [newId(), newId()];
    containerIds.push(idA, idB);
    const hostsA = hostsFile('alpha');
    const hostsB = hostsFile('beta');
    const a = await engine.attachNetwork({
      containerId: idA,
      containerName: 'alpha',
      network: network.Name,
      netnsPath: addNamespace(1),
      publish: ['8080:80'],
      hostsFile: hostsA,
      addHosts: ['db:10.1.2.3'],
    });
    const b = await engine.attachNetwork({
      containerId: idB,
      containerName: 'beta',
      network: network.Id.slice(0, 12),
      netnsPath: addNamespace(2),
      aliases: ['b2'],
      hostsFile: hostsB,
    });
    assert.equal(a.ifname, 'eth0');
    assert.equal(a.gateway, gateway);
    assert.ok(a.ip.startsWith(subnetPrefix) && b.ip.startsWith(subnetPrefix), `${a.ip} ${b.ip} in ${subnet}`);
    assert.notEqual(a.ip, b.ip);
    assert.match(a.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.deepEqual(a.ports, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);

    // The kernel agrees: eth0 with the address inside the namespace, lo up.
    const addr = inNs(1, 'ip -o -4 addr show');
    assert.match(addr.stdout, new RegExp(`eth0\\s+inet ${a.ip.replace(/\./g, '\\.')}/`));
    assert.match(addr.stdout, /\blo\s+inet 127\.0\.0\.1\//);

    // The container's view, Docker's NetworkSettings.
    const settings = await engine.networkSettings(idA);
    assert.deepEqual(settings.Ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] });
    assert.equal(settings.Networks[network.Name]!.IPAddress, a.ip);
    assert.equal(settings.Networks[network.Name]!.MacAddress, a.mac);
    assert.deepEqual((await engine.networkSettings(idB)).Networks[network.Name]!.Aliases, ['b2']);

    // Inspect shows both members.
    const inspected = await engine.inspectNetwork(network.Name);
    assert.deepEqual(Object.values(inspected.Containers).map((c) => c.Name).sort(), ['alpha', 'beta']);
    assert.equal(inspected.Containers[idA]!.IPv4Address, `${a.ip}/${subnet.split('/')[1]}`);

    // Hosts files: each sees the other (name, alias, short id), --add-host kept, base lines kept.
    const textA = fs.readFileSync(hostsA, 'utf8');
    const textB = fs.readFileSync(hostsB, 'utf8');
    assert.match(textA, /^127\.0\.0\.1\tlocalhost$/m);
    assert.ok(textA.includes(`${b.ip}\tbeta b2 ${idB.slice(0, 12)}`), textA);
    assert.ok(textA.includes(`${a.ip}\talpha ${idA.slice(0, 12)}`), textA);
    assert.ok(textA.includes('10.1.2.3\tdb'), textA);
    assert.ok(textB.includes(`${a.ip}\talpha ${idA.slice(0, 12)}`), textB);
    assert.ok(!textB.includes('10.1.2.3'), textB);

    // Traffic between the namespaces.
    const ping = inNs(2, `/bin/busybox ping -c 1 -W 3 ${a.ip}`);
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    startHttpd(1);
    await waitFor(() => inNs(1, '/bin/busybox netstat -ltn | grep -q ":80 "').status === 0, 'httpd in namespace 1');
    const byIp = inNs(2, `/bin/busybox wget -q -O - http://${a.ip}/`);
    assert.equal(byIp.stdout, 'hello from a namespace\n', byIp.stderr);
    // By name, with beta's hosts file over /etc/hosts (ip netns exec runs in its own mount namespace).
    const byName = inNs(2, `mount --bind ${hostsB} /etc/hosts && /bin/busybox wget -q -O - http://alpha/`);
    assert.equal(byName.stdout, 'hello from a namespace\n', byName.stderr);

    // The published port answers on the host's loopback and on the bridge's gateway address.
    assert.equal(await httpGet('http://127.0.0.1:8080/'), 'hello from a namespace\n');
    assert.equal(await httpGet(`http://${gateway}:8080/`), 'hello from a namespace\n');

    // Refusals while attached.
    await assert.rejects(engine.removeNetwork(network.Name), (error: unknown) => isEngineError(error, 'CONFLICT') && /in use by 2 container/.test(error.message));
    await assert.rejects(
      engine.attachNetwork({ containerId: newId(), containerName: 'gamma', network: network.Name, netnsPath: addNamespace(3), publish: ['8080:80'] }),
      (error: unknown) => isEngineError(error, 'CONFLICT') && /8080\/tcp: port is already in use/.test(error.message),
    );
    await assert.rejects(
      engine.createNetwork({ name: `overlap-${process.pid}`, subnet }),
      (error: unknown) => isEngineError(error, 'CONFLICT') && error.message.includes(`overlaps network nettest-${process.pid}`),
    );

    // --explain saw each plugin call with its input and its answer.
    const bridgeCall = explainer.events.find((event) => event.topic === 'network' && event.call?.includes('CNI_COMMAND=ADD') && event.call.includes('/bridge <<<'));
    assert.ok(bridgeCall?.call?.includes(`"bridge":"${bridge}"`), 'bridge ADD with its config');
    assert.ok(explainer.events.some((event) => event.say.startsWith('bridge answered') && event.say.includes(a.ip)));
    assert.ok(explainer.events.some((event) => event.call?.includes('/portmap <<<') && event.call.includes('"portMappings":[{"hostPort":8080')));

    // CHECK passes while all is in place, and fails once the interface is gone behind the engine's back.
    await engine.checkNetworks(idA);
    await engine.checkNetworks(idB);
    assert.equal(inNs(2, 'ip link set eth0 down && ip link set eth0 name eth9').status, 0);
    await assert.rejects(engine.checkNetworks(idB), (error: unknown) => isEngineError(error) && /cni CHECK bridge on network/.test(error.message));
    assert.equal(inNs(2, 'ip link set eth9 name eth0 && ip link set eth0 up').status, 0);

    // Leave: beta first (alpha's hosts file loses it), then alpha.
    assert.deepEqual((await engine.detachNetworks(idB)).detached, [network.Name]);
    assert.ok(!fs.readFileSync(hostsA, 'utf8').includes('beta'));
    assert.deepEqual((await engine.detachNetworks(idA)).detached, [network.Name]);
    assert.deepEqual((await engine.detachNetworks(idA)).detached, [], 'detach again is a no-op');
    assert.ok(!fs.readFileSync(hostsA, 'utf8').includes('didactic-container'), 'the block is gone');

    // Nothing of ours: no veth on the bridge, no lease, no rule.
    assert.equal(sh('ip', ['-o', 'link', 'show', 'master', bridge]).stdout.trim(), '');
    const leases = path.join(root.runRoot, 'cni', 'ipam', network.Name);
    assert.deepEqual(fs.readdirSync(leases).filter((file) => file !== 'lock' && !file.startsWith('last_reserved_ip')), []);
    const rules = sh('iptables-save', []).stdout;
    for (const needle of [idA, idB]) assert.ok(!rules.includes(needle), `iptables still mention ${needle}:\n${rules}`);
    for (const ip of [a.ip, b.ip]) assert.ok(!namesIp(rules, ip), `iptables still mention ${ip}:\n${rules}`);
    // What still names the bridge or the subnet is the network's own rules (its comment), until the network goes.
    const naming = rules.split('\n').filter((line) => line.includes(bridge) || line.includes(subnetPrefix));
    assert.deepEqual(naming.filter((line) => !line.includes(`--comment "didactic-container ${bridge}"`)), [], rules);
    assert.equal(naming.length, 3, rules);

    await engine.removeNetwork(network.Name);
    assert.ok(!fs.existsSync(`/sys/class/net/${bridge}`), 'bridge deleted');
    assert.ok(!fs.existsSync(leases), 'lease store deleted');
    assert.ok(!sh('ip', ['-o', 'link']).stdout.includes(bridge));
    const gone = sh('iptables-save', []).stdout;
    for (const needle of [bridge, subnetPrefix]) assert.ok(!gone.includes(needle), `iptables still mention ${needle}:\n${gone}`);
    assert.ok(!gone.includes('CNI-'), 'no CNI chain left when no CNI container is left');
  });

  test('a network owns its rules: create adds exactly the MASQUERADE and FORWARD accepts (an internal one only its own traffic), rm deletes them, --explain tells each', async () => {
    const before = explainer.events.length;
    const open = await engine.createNetwork({ name: `rules-${process.pid}`, subnet: '10.213.91.0/24' });
    const internal = await engine.createNetwork({ name: `rules-int-${process.pid}`, subnet: '10.213.92.0/24', internal: true });
    const [br, brInt] = [open.Options['com.docker.network.bridge.name']!, internal.Options['com.docker.network.bridge.name']!];
    bridges.add(br).add(brInt);
    const comment = (bridge: string) => `-m comment --comment "didactic-container ${bridge}"`;
    assert.deepEqual(rulesOf(br).sort(), [
      `-A FORWARD -i ${br} ${comment(br)} -j ACCEPT`,
      `-A FORWARD -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT ${comment(br)} -j ACCEPT`,
      `-A POSTROUTING -s 10.213.91.0/24 ! -o ${br} ${comment(br)} -j MASQUERADE`,
    ].sort());
    assert.deepEqual(rulesOf(brInt).sort(), [
      `-A FORWARD ! -i ${brInt} -o ${brInt} ${comment(brInt)} -j DROP`,
      `-A FORWARD -i ${brInt} ! -o ${brInt} ${comment(brInt)} -j DROP`,
      `-A FORWARD -i ${brInt} -o ${brInt} ${comment(brInt)} -j ACCEPT`,
    ].sort());
    // Inserted at the top of FORWARD: ahead of any rule that is not one of ours (Docker's DROP policy chains, say).
    const forward = sh('iptables', ['-S', 'FORWARD']).stdout.split('\n').filter((line) => line.startsWith('-A '));
    const firstOther = forward.findIndex((line) => !line.includes('--comment "didactic-container '));
    const lastOurs = forward.map((line) => line.includes(comment(br)) || line.includes(comment(brInt))).lastIndexOf(true);
    assert.ok(firstOther === -1 || lastOurs < firstOther, forward.join('\n'));
    const calls = explainer.events.slice(before).map((event) => event.call ?? '');
    assert.ok(calls.includes(`iptables -t nat -A POSTROUTING -s 10.213.91.0/24 ! -o ${br} -m comment --comment "didactic-container ${br}" -j MASQUERADE`), calls.join('\n'));
    assert.ok(calls.some((call) => call.startsWith(`iptables -t filter -I FORWARD -i ${brInt} -o ${brInt} `)), calls.join('\n'));
    assert.ok(calls.some((call) => call.startsWith('iptables-restore --noflush -w <<< \'*nat')));

    // The bridge deleted behind the engine's back (as after a reboot): the next attach makes it and its rules again, once.
    assert.equal(sh('ip', ['link', 'del', br]).status, 0);
    const id = newId();
    containerIds.push(id);
    const attached = await engine.attachNetwork({ containerId: id, containerName: 'again', network: open.Name, netnsPath: addNamespace(40) });
    assert.ok(fs.existsSync(`/sys/class/net/${br}`), 'bridge made again');
    assert.match(sh('ip', ['-4', '-o', 'addr', 'show', 'dev', br]).stdout, /inet 10\.213\.91\.1\/24/);
    assert.equal(rulesOf(br).length, 3, rulesOf(br).join('\n'));
    assert.equal(inNs(40, '/bin/busybox ping -c 1 -W 3 10.213.91.1').status, 0, 'the gateway answers');
    await engine.detachNetworks(id);
    assert.ok(attached.ip.startsWith('10.213.91.'));

    const beforeRm = explainer.events.length;
    await engine.removeNetwork(open.Name);
    await engine.removeNetwork(internal.Name);
    assert.deepEqual(rulesOf(br), []);
    assert.deepEqual(rulesOf(brInt), []);
    const rmCalls = explainer.events.slice(beforeRm).map((event) => event.call ?? '');
    assert.ok(rmCalls.includes(`iptables -t nat -D POSTROUTING -s 10.213.91.0/24 ! -o ${br} -m comment --comment "didactic-container ${br}" -j MASQUERADE`), rmCalls.join('\n'));
  });

  test('containers without published ports add no iptables rule and run only bridge; they reach the gateway and each other on the default network', async () => {
    const before = explainer.events.length;
    const [idA, idB] = [newId(), newId()];
    containerIds.push(idA, idB);
    const a = await engine.attachNetwork({ containerId: idA, containerName: 'quiet-a', netnsPath: addNamespace(50) });
    const b = await engine.attachNetwork({ containerId: idB, containerName: 'quiet-b', netnsPath: addNamespace(51) });
    bridges.add(a.bridge);
    const rules = sh('iptables-save', []).stdout;
    for (const needle of [idA, idB]) assert.ok(!rules.includes(needle), `a rule names container ${needle}:\n${rules}`);
    for (const ip of [a.ip, b.ip]) assert.ok(!namesIp(rules, ip), `a rule names ${ip}:\n${rules}`);
    // Only bridge (and loopback) were called: no portmap, no firewall.
    const plugins = explainer.events.slice(before).map((event) => /CNI_COMMAND=ADD .*\/(\w+) <<</.exec(event.call ?? '')?.[1]).filter(Boolean);
    assert.deepEqual([...new Set(plugins)].sort(), ['bridge', 'loopback']);
    // The network's rules are in place, and traffic flows: the gateway, and each other.
    assert.equal(rulesOf(a.bridge).length, 3, rulesOf(a.bridge).join('\n'));
    assert.equal(inNs(50, `/bin/busybox ping -c 1 -W 3 ${a.gateway}`).status, 0, 'A reaches the gateway');
    const ping = inNs(51, `/bin/busybox ping -c 1 -W 3 ${a.ip}`);
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    const beforeDel = explainer.events.length;
    await engine.detachNetworks(idA);
    await engine.detachNetworks(idB);
    const dels = explainer.events.slice(beforeDel);
    assert.deepEqual([...new Set(dels.map((event) => /CNI_COMMAND=DEL .*\/(\w+) <<</.exec(event.call ?? '')?.[1]).filter(Boolean))], ['bridge']);
    assert.ok(!dels.some((event) => (event.call ?? '').startsWith('iptables')), 'no iptables work at DEL');
    assert.equal(sh('ip', ['-o', 'link', 'show', 'master', a.bridge]).stdout.trim(), '');
  });

  test('made by the old code: an attachment (bridge with NAT, portmap, firewall; no list stored) is torn down completely, a network gets its rules at next use', async () => {
    const state = createEngineState(resolvePaths({ root: root.root, runRoot: root.runRoot }), silentExplainer);
    try {
      const network = await engine.createNetwork({ name: `legacy-${process.pid}` });
      const row = networks.getNetwork(state.db(), network.Id);
      bridges.add(row.bridge);
      // The network as the old code made it: a bridge, no rules of its own.
      assert.equal(removeBridgeRules([row.bridge]).length, 3);
      networks.setNetworkHostRules(state.db(), row.id, false);
      const ns = addNamespace(60);
      const id = newId();
      containerIds.push(id);
      const list = planLegacyConfList(
        { id: row.id, name: row.name, bridge: row.bridge, subnet: row.subnet, gateway: row.gateway, internal: row.internal },
        { ipamDataDir: path.join(root.runRoot, 'cni', 'ipam') },
      );
      // What the old attachNetwork did: the row without a list, then ADD of the whole old list.
      networks.addAttachment(state.db(), { networkId: row.id, containerId: id, containerName: 'old', netns: ns, aliases: [], ports: [], extraHosts: [], hostsFile: null });
      const result = await addNetworkList(list, { containerId: id, netns: ns, ifname: 'eth0' }, { portMappings: [] }, { pluginDirs: pluginDirsFromEnv(), explainer: silentExplainer });
      const ip = addressOf(result).ip!;
      networks.setAttachmentResult(state.db(), row.id, id, { result: JSON.stringify(result), ip, mac: null });
      const during = sh('iptables-save', []).stdout;
      assert.ok(during.includes(id) && namesIp(during, ip), 'the old plugins made per-container rules');

      assert.deepEqual((await detachNetworks(state, id)).detached, [row.name]);
      const after = sh('iptables-save', []).stdout;
      assert.ok(!after.includes(id), `iptables still mention ${id}:\n${after}`);
      assert.ok(!namesIp(after, ip), `iptables still mention ${ip}:\n${after}`);
      assert.equal(sh('ip', ['-o', 'link', 'show', 'master', row.bridge]).stdout.trim(), '');
      assert.deepEqual(rulesOf(row.bridge), []);

      // The next attach, by the new code, gives the old network its rules (once).
      const next = newId();
      containerIds.push(next);
      await engine.attachNetwork({ containerId: next, containerName: 'new', network: row.name, netnsPath: addNamespace(61) });
      assert.equal(rulesOf(row.bridge).length, 3, rulesOf(row.bridge).join('\n'));
      assert.equal(networks.getNetwork(state.db(), row.id).hostRules, true);
      await engine.detachNetworks(next);
      await engine.removeNetwork(row.name);
      assert.deepEqual(rulesOf(row.bridge), []);
    } finally {
      await state.close();
    }
  });

  test('a running process on the default network: its namespace is pinned, -p CONTAINERPORT picks a host port, DEL works after it died', async () => {
    addNamespace(10);
    const httpd = startHttpd(10);
    await waitFor(() => httpd.pid !== undefined, 'httpd pid');
    const id = newId();
    containerIds.push(id);
    const attached = await engine.attachNetwork({ containerId: id, containerName: 'pinned', pid: httpd.pid!, publish: ['80'] });
    bridges.add(attached.bridge);
    assert.equal(attached.network, 'bridge');
    assert.match(attached.bridge, /^dctr\d+$/);
    assert.equal(attached.netns, path.join(root.runRoot, 'netns', id));
    const port = attached.ports[0]!.hostPort;
    assert.ok(port > 0 && attached.ports[0]!.containerPort === 80);
    await waitFor(() => inNs(10, '/bin/busybox netstat -ltn | grep -q ":80 "').status === 0, 'httpd in namespace 10');
    assert.equal(await httpGet(`http://127.0.0.1:${port}/`), 'hello from a namespace\n');

    // The default network exists and cannot be removed.
    await assert.rejects(engine.removeNetwork('bridge'), (error: unknown) => isEngineError(error, 'FAILED_PRECONDITION'));

    httpd.kill('SIGKILL');
    await new Promise((resolve) => httpd.once('exit', resolve));
    await engine.detachNetworks(id);
    assert.ok(!fs.existsSync(attached.netns), 'pin released');
    assert.equal(sh('ip', ['-o', 'link', 'show', 'master', attached.bridge]).stdout.trim(), '');
    const rules = sh('iptables-save', []).stdout;
    assert.ok(!rules.includes(id) && !rules.includes(`:${port}`), rules);
  });

  test("--network none: lo is brought up in the process's own namespace, and nothing else appears", async () => {
    const child = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
    processes.push(child);
    await waitFor(() => child.pid !== undefined && fs.readlinkSync(`/proc/${child.pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net'), 'the new namespace');
    const before = sh('nsenter', ['-t', String(child.pid), '-n', 'ip', '-o', 'link']).stdout;
    assert.match(before, /\blo: <LOOPBACK>/);
    await engine.setUpLoopback(newId(), child.pid!);
    const after = sh('nsenter', ['-t', String(child.pid), '-n', 'ip', '-o', 'link']).stdout;
    assert.match(after, /\blo: <LOOPBACK,UP,LOWER_UP>/);
    assert.equal(after.trim().split('\n').length, 1, after);
    child.kill('SIGKILL');
  });

  test('the calls run makes: plan the flags early, connect from onPid with the pid, detach at cleanup', async () => {
    const state = createEngineState(resolvePaths({ root: root.root, runRoot: root.runRoot }), silentExplainer);
    try {
      assert.throws(() => planRunNetwork(state, { network: 'nope' }), (error: unknown) => isEngineError(error, 'NOT_FOUND'));
      assert.throws(() => planRunNetwork(state, { publish: ['x'] }), (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT'));
      const none = planRunNetwork(state, { network: 'none', publish: ['80'], addHosts: ['db:10.9.9.9'] });
      assert.deepEqual([none.mode, none.warnings], ['none', ['published ports are discarded with --network none']]);
      assert.equal(planRunNetwork(state, { network: 'host' }).mode, 'host');
      assert.equal(planRunNetwork(state, { network: 'container:other' }).mode, 'container');

      await engine.createNetwork({ name: `runnet-${process.pid}` });
      const plan = planRunNetwork(state, { network: `runnet-${process.pid}`, publish: ['127.0.0.1::80'], aliases: ['svc'], addHosts: ['db:10.9.9.9'] });
      assert.equal(plan.mode, 'cni');
      const child = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
      processes.push(child);
      await waitFor(() => child.pid !== undefined && fs.readlinkSync(`/proc/${child.pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net'), 'the new namespace');
      const id = newId();
      containerIds.push(id);
      const hosts = hostsFile('runner');
      const attached = await connectContainer(state, plan, { containerId: id, containerName: 'runner', pid: child.pid!, hostsFile: hosts });
      bridges.add(attached!.bridge);
      assert.equal(attached!.ports[0]!.hostIP, '127.0.0.1');
      const text = fs.readFileSync(hosts, 'utf8');
      assert.ok(text.includes(`${attached!.ip}\trunner svc ${id.slice(0, 12)}`) && text.includes('10.9.9.9\tdb'), text);
      const links = sh('nsenter', ['-t', String(child.pid), '-n', 'ip', '-o', '-4', 'addr']).stdout;
      assert.match(links, /lo\s+inet 127\.0\.0\.1/);
      assert.ok(links.includes(`inet ${attached!.ip}/`), links);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      await detachNetworks(state, id);
      assert.ok(!fs.readFileSync(hosts, 'utf8').includes('runner svc'));

      const noneHosts = hostsFile('loner');
      const loner = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
      processes.push(loner);
      await waitFor(() => loner.pid !== undefined && fs.readlinkSync(`/proc/${loner.pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net'), 'the new namespace');
      assert.equal(await connectContainer(state, none, { containerId: newId(), containerName: 'loner', pid: loner.pid!, hostsFile: noneHosts }), undefined);
      assert.ok(fs.readFileSync(noneHosts, 'utf8').includes('10.9.9.9\tdb'));
      assert.match(sh('nsenter', ['-t', String(loner.pid), '-n', 'ip', '-o', 'link']).stdout, /lo: <LOOPBACK,UP,LOWER_UP>/);
      loner.kill('SIGKILL');
      await engine.removeNetwork(`runnet-${process.pid}`);
    } finally {
      await state.close();
    }
  });

  test('clear errors: unknown network, missing plugins, host port in use, bad -p, bad subnet', async () => {
    const ns = addNamespace(20);
    await assert.rejects(
      engine.attachNetwork({ containerId: newId(), containerName: 'x', network: 'no-such-net', netnsPath: ns }),
      (error: unknown) => isEngineError(error, 'NOT_FOUND') && error.message === 'network no-such-net not found',
    );
    const network = await engine.createNetwork({ name: `errs-${process.pid}`, subnet: '10.213.77.0/24', gateway: '10.213.77.254' });
    bridges.add(network.Options['com.docker.network.bridge.name']!);
    assert.deepEqual(network.IPAM.Config, [{ Subnet: '10.213.77.0/24', Gateway: '10.213.77.254' }]);

    const saved = process.env.DIDACTIC_CNI_PATH;
    process.env.DIDACTIC_CNI_PATH = path.join(root.dir, 'no-plugins-here');
    try {
      await assert.rejects(
        engine.attachNetwork({ containerId: newId(), containerName: 'x', network: network.Name, netnsPath: ns }),
        (error: unknown) => isEngineError(error, 'FAILED_PRECONDITION') && /cni plugin bridge: not found/.test(error.message) && /containernetworking-plugins/.test(error.hint ?? ''),
      );
    } finally {
      if (saved === undefined) delete process.env.DIDACTIC_CNI_PATH;
      else process.env.DIDACTIC_CNI_PATH = saved;
    }

    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const busy = (server.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        engine.attachNetwork({ containerId: newId(), containerName: 'x', network: network.Name, netnsPath: ns, publish: [`127.0.0.1:${busy}:80`] }),
        (error: unknown) => isEngineError(error, 'CONFLICT') && error.message.includes(`127.0.0.1:${busy}/tcp: port is already in use on the host`),
      );
    } finally {
      server.close();
    }
    await assert.rejects(
      engine.attachNetwork({ containerId: newId(), containerName: 'x', network: network.Name, netnsPath: ns, publish: ['80:99999'] }),
      (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT') && /out of range/.test(error.message),
    );
    await assert.rejects(engine.createNetwork({ name: 'bad', subnet: '10.0.0.1/8' }), (error: unknown) => isEngineError(error, 'INVALID_ARGUMENT') && /host bits/.test(error.message));
    // Nothing half-made by the refusals.
    assert.deepEqual((await engine.inspectNetwork(network.Name)).Containers, {});
    // The bridge is made with the network (so no other root can take its name or subnet), with its gateway address.
    const bridge = network.Options['com.docker.network.bridge.name']!;
    assert.match(sh('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]).stdout, /inet 10\.213\.77\.254\/24/);
    await engine.removeNetwork(network.Name);
    assert.ok(!fs.existsSync(`/sys/class/net/${bridge}`));
    assert.deepEqual((await engine.pruneNetworks()).NetworksDeleted, []);
  });

  test('the network commands: create, ls, inspect, rm, prune, with --format json and clear refusals', () => {
    const cli = (...args: string[]) => sh(process.execPath, [BIN, '--root', root.root, '--run-root', root.runRoot, ...args]);
    const name = `clinet-${process.pid}`;
    const created = cli('network', 'create', '--subnet', '10.213.88.0/24', '--label', 'team=net', name);
    assert.equal(created.status, 0, created.stderr);
    const id = created.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const again = cli('network', 'create', name);
    assert.equal(again.status, 125);
    assert.match(again.stderr, /network with name clinet-\d+ already exists/);
    const overlap = cli('network', 'create', '--subnet', '10.213.0.0/16', `${name}-2`);
    assert.equal(overlap.status, 125);
    assert.match(overlap.stderr, /subnet 10\.213\.0\.0\/16 overlaps network clinet-\d+ \(10\.213\.88\.0\/24\)/);

    const listed = JSON.parse(cli('network', 'ls', '--format', 'json').stdout) as { Name: string; Id: string }[];
    assert.deepEqual(listed.map((network) => network.Name).sort(), ['bridge', name].sort());
    const table = cli('network', 'ls').stdout;
    assert.match(table, /^NETWORK ID\s+NAME\s+DRIVER\s+SUBNET/);
    assert.ok(table.includes(id.slice(0, 12)) && table.includes('10.213.88.0/24'));

    const inspected = cli('network', 'inspect', id.slice(0, 10), 'nope');
    assert.equal(inspected.status, 1);
    assert.match(inspected.stderr, /network nope not found/);
    const [shown] = JSON.parse(inspected.stdout) as { Name: string; IPAM: { Config: unknown[] }; Labels: Record<string, string> }[];
    assert.equal(shown!.Name, name);
    assert.deepEqual(shown!.IPAM.Config, [{ Subnet: '10.213.88.0/24', Gateway: '10.213.88.1' }]);
    assert.deepEqual(shown!.Labels, { team: 'net' });

    const rmDefault = cli('network', 'rm', 'bridge');
    assert.equal(rmDefault.status, 1);
    assert.match(rmDefault.stderr, /pre-defined default network/);
    const pruned = JSON.parse(cli('network', 'prune', '--format', 'json').stdout) as { NetworksDeleted: string[] };
    assert.deepEqual(pruned.NetworksDeleted, [name]);
    const rmGone = cli('network', 'rm', name);
    assert.equal(rmGone.status, 1);
    assert.match(rmGone.stderr, /not found/);
  });
});
