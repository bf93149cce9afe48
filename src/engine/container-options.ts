/**
 * `run`'s flags, as strings, -> the spec module's RunOptions, with the spec
 * parsers (each throws INVALID_ARGUMENT naming the flag). The files some
 * flags name (--env-file, --security-opt seccomp=PATH) are read here too.
 */
import fs from 'node:fs';
import net from 'node:net';
import { EngineError, isValidName } from '../common/index.js';
import {
  normalizeCapabilities,
  parseCpus,
  parseCpuset,
  parseInteger,
  parseMemory,
  parseMemorySwap,
  parseSecurityOpts,
  parseUserSpec,
  seccompProfilePath,
  type RunOptions,
} from '../spec/index.js';
import type { RunRequest } from './types.js';

/** RunOptions minus what only exists once the container does (id, rootfs, image config, /etc files). */
export type RequestedOptions = Omit<RunOptions, 'containerId' | 'rootfsPath' | 'imageConfig' | 'networkFiles'>;

/** The network used when --network is not given, as Docker's. */
export const DEFAULT_RUN_NETWORK = 'bridge';

/**
 * run's network flags besides --network. RunRequest (types.ts) does not
 * carry them yet: callers pass them on the same object, run reads them
 * through this type.
 */
export interface RunNetworkRequest {
  /** -p/--publish: [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]. */
  publish?: string[] | undefined;
  /** --add-host NAME:IP. */
  addHost?: string[] | undefined;
  /** --network-alias, on user networks. */
  networkAlias?: string[] | undefined;
  /** --dns: nameservers written into the container's resolv.conf. */
  dns?: string[] | undefined;
  /** -P/--publish-all: every port the image exposes, on a free host port. */
  publishAll?: boolean | undefined;
}

/** The network flags of a run request (RunRequest plus RunNetworkRequest). */
export function networkFlagsOf(request: RunRequest): RunNetworkRequest {
  return request as RunRequest & RunNetworkRequest;
}

/** --network's value: none, host, container:NAME, or a network's name (bridge when not given). */
export function requestedNetwork(request: RunRequest): string {
  const network = request.network ?? DEFAULT_RUN_NETWORK;
  if (network === '' || network === 'container:') {
    throw new EngineError('INVALID_ARGUMENT', `invalid --network "${network}"`, { hint: 'none, host, container:NAME, bridge or the name of a network' });
  }
  return network;
}

/**
 * The -p list, plus with -P every port of the image's ExposedPorts ("80/tcp",
 * "53/udp", "8080") that -p does not already publish, each on a free host
 * port as Docker does. `imageConfigText` is the image's config JSON.
 */
export function publishedPorts(flags: RunNetworkRequest, imageConfigText: string): string[] {
  const given = [...(flags.publish ?? [])];
  if (flags.publishAll !== true) return given;
  let exposed: unknown;
  try {
    exposed = (JSON.parse(imageConfigText) as { config?: { ExposedPorts?: unknown } | null }).config?.ExposedPorts;
  } catch {
    exposed = undefined;
  }
  if (exposed === null || typeof exposed !== 'object') return given;
  const covered = new Set(given.map((spec) => portKeyOf(spec.split(':').pop()!)));
  for (const key of Object.keys(exposed).sort()) {
    const port = portKeyOf(key);
    if (!/^\d+\/(tcp|udp)$/.test(port) || covered.has(port)) continue;
    covered.add(port);
    given.push(port);
  }
  return given;
}

/** "80" -> "80/tcp"; "53/UDP" -> "53/udp". */
function portKeyOf(spec: string): string {
  const [port = '', proto = 'tcp'] = spec.trim().split('/');
  return `${port}/${proto.toLowerCase()}`;
}

/** --dns values: each an IPv4 or IPv6 address. */
export function parseDnsServers(values: readonly string[] | undefined): string[] {
  return (values ?? []).map((value) => {
    const server = value.trim();
    if (net.isIP(server) === 0) throw new EngineError('INVALID_ARGUMENT', `invalid --dns "${value}": not an IP address`);
    return server;
  });
}

function readFlagFile(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new EngineError(code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_ARGUMENT', `read ${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : (cause as Error).message}`, { cause });
  }
}

/** Parses and checks every flag; reads the files they name. */
export function requestedOptions(request: RunRequest, readFile: (file: string, flag: string) => string = readFlagFile): RequestedOptions {
  if (request.name !== undefined && !isValidName(request.name)) {
    throw new EngineError('INVALID_ARGUMENT', `invalid container name (${request.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const network = requestedNetwork(request);
  const networkFlags = networkFlagsOf(request);
  parseDnsServers(networkFlags.dns);
  if (network.startsWith('container:')) {
    // The other container's hostname, /etc/hosts and resolv.conf are shared: these would be lost (Docker's refusals).
    const conflict = request.hostname !== undefined ? 'hostname' : (networkFlags.addHost ?? []).length > 0 ? 'custom host-to-IP mapping' : (networkFlags.dns ?? []).length > 0 ? 'dns' : undefined;
    if (conflict !== undefined) throw new EngineError('INVALID_ARGUMENT', `conflicting options: ${conflict} and the network mode`);
  }
  if (request.user !== undefined) parseUserSpec(request.user);
  // Parse early so that a bad option fails before anything is made.
  parseSecurityOpts(request.securityOpt);
  const profile = seccompProfilePath(request.securityOpt);

  const options: RequestedOptions = {
    image: request.image,
    command: request.command ?? [],
    network,
    capAdd: normalizeCapabilities(request.capAdd),
    capDrop: normalizeCapabilities(request.capDrop),
    privileged: request.privileged === true,
    securityOpt: request.securityOpt ?? [],
    readOnly: request.readOnly === true,
    tty: request.tty === true,
    interactive: request.interactive === true,
    env: request.env ?? [],
    envFiles: (request.envFile ?? []).map((file) => readFile(file, '--env-file')),
  };
  if (request.name !== undefined) options.name = request.name;
  if (request.entrypoint !== undefined) options.entrypoint = request.entrypoint;
  if (request.workdir !== undefined) options.workdir = request.workdir;
  if (request.user !== undefined) options.user = request.user;
  if (request.hostname !== undefined) options.hostname = request.hostname;
  if (profile !== undefined) options.seccompProfileContent = readFile(profile, '--security-opt seccomp');
  if (request.memory !== undefined) options.memory = parseMemory(request.memory);
  if (request.memorySwap !== undefined) options.memorySwap = parseMemorySwap(request.memorySwap);
  if (request.cpus !== undefined) options.cpus = parseCpus(request.cpus);
  if (request.cpuShares !== undefined) options.cpuShares = parseInteger(request.cpuShares, '--cpu-shares');
  if (request.cpusetCpus !== undefined) {
    parseCpuset(request.cpusetCpus);
    options.cpusetCpus = request.cpusetCpus;
  }
  if (request.pidsLimit !== undefined) options.pidsLimit = parseInteger(request.pidsLimit, '--pids-limit');
  return options;
}
