/**
 * Registry names -> where to connect and how. References say `docker.io`;
 * Docker Hub's API lives at registry-1.docker.io and its credentials are kept
 * under the historical key `https://index.docker.io/v1/`.
 */
import net from 'node:net';

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_API = 'registry-1.docker.io';
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** A registry name in its canonical form: Docker Hub's aliases become docker.io. */
export function canonicalRegistry(registry: string): string {
  const r = stripScheme(registry).toLowerCase();
  return HUB_ALIASES.has(r) ? DOCKER_HUB : r;
}

/** `host[:port]` to send API requests to. */
export function apiHost(registry: string): string {
  const r = canonicalRegistry(registry);
  return r === DOCKER_HUB ? DOCKER_HUB_API : r;
}

/** Splits `host:port`, `[v6]:port`, `host` into the host (no brackets) and the port text. */
export function splitHostPort(hostPort: string): { host: string; port: string | undefined } {
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    const host = hostPort.slice(1, end === -1 ? undefined : end);
    const rest = end === -1 ? '' : hostPort.slice(end + 1);
    return { host, port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon !== -1 && hostPort.indexOf(':') === colon) {
    return { host: hostPort.slice(0, colon), port: hostPort.slice(colon + 1) };
  }
  return { host: hostPort, port: undefined };
}

/** Loopback registries (127.0.0.0/8, ::1, localhost) are spoken to over plain HTTP, as Docker does. */
export function isLoopbackHost(hostPort: string): boolean {
  const { host } = splitHostPort(hostPort.toLowerCase());
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(host);
  return false;
}

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function inCidr(host: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (base === undefined || !net.isIPv4(base) || !net.isIPv4(host) || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    return false;
  }
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (~((1 << (32 - bits)) - 1)) >>> 0;
  return ((ipv4ToNumber(host) & mask) >>> 0) === ((ipv4ToNumber(base) & mask) >>> 0);
}

/**
 * True when the registry is named in the insecure list, as `host`, `host:port`
 * or an IPv4 CIDR (`10.0.0.0/8`), as Docker's --insecure-registry takes them.
 */
export function isInsecureRegistry(registry: string, insecure: readonly string[]): boolean {
  const hostPort = apiHost(registry);
  const { host } = splitHostPort(hostPort);
  return insecure.some((entryRaw) => {
    const entry = canonicalRegistry(entryRaw.trim().replace(/\/+$/, ''));
    if (entry.includes('/')) return inCidr(host, entry);
    return entry === hostPort || entry === host || apiHost(entry) === hostPort;
  });
}

export function stripScheme(value: string): string {
  return value.replace(/^[a-z]+:\/\//i, '');
}

/**
 * The key a registry's credentials are stored under in an `auths` map:
 * Docker Hub's legacy URL, otherwise the bare `host[:port]`.
 */
export function credentialKey(registry: string): string {
  const r = registryFromCredentialKey(registry);
  return r === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : r;
}

/** The registry a stored `auths` key refers to (`https://host/v1/` -> `host`). */
export function registryFromCredentialKey(key: string): string {
  const hostPort = stripScheme(key).split('/')[0] ?? '';
  return canonicalRegistry(hostPort);
}

/** The repository as people write it, for messages: `busybox`, `localhost:5000/x`. */
export function displayRepository(registry: string, repository: string): string {
  if (canonicalRegistry(registry) !== DOCKER_HUB) return `${registry}/${repository}`;
  return repository.startsWith('library/') && repository.split('/').length === 2 ? repository.slice(8) : repository;
}
