/**
 * IPv4 addresses and CIDR blocks as plain numbers: parsing with clear errors,
 * overlap tests, and picking a free subnet for a new network.
 */
import { EngineError } from '../common/index.js';

export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  address: number;
  prefix: number;
}

/** Parses a dotted quad; undefined when it is not one. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** The mask of a prefix length as an unsigned number. */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; host bits must be zero. INVALID_ARGUMENT names `what` otherwise. */
export function parseCidr(text: string, what = 'subnet'): Cidr {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  const address = match === null ? undefined : parseIpv4(match[1]!);
  const prefix = match === null ? NaN : Number(match[2]);
  if (address === undefined || !(prefix >= 0 && prefix <= 32)) {
    throw new EngineError('INVALID_ARGUMENT', `${what} ${JSON.stringify(text)}: not an IPv4 CIDR block`, { hint: 'write it like 10.89.0.0/24' });
  }
  const network = (address & prefixMask(prefix)) >>> 0;
  if (network !== address) {
    throw new EngineError('INVALID_ARGUMENT', `${what} ${text}: host bits are set`, { hint: `did you mean ${formatIpv4(network)}/${prefix}?` });
  }
  return { address, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.address)}/${cidr.prefix}`;
}

/** The last address of a block. */
export function lastAddress(cidr: Cidr): number {
  return (cidr.address | ~prefixMask(cidr.prefix)) >>> 0;
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return ((address & prefixMask(cidr.prefix)) >>> 0) === cidr.address;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = prefixMask(prefix);
  return ((a.address & mask) >>> 0) === ((b.address & mask) >>> 0);
}

/**
 * The gateway of a subnet: the given one (which must be a usable host address
 * inside it), or the first host address.
 */
export function gatewayFor(subnet: Cidr, gateway?: string): string {
  if (subnet.prefix > 30) throw new EngineError('INVALID_ARGUMENT', `subnet ${formatCidr(subnet)}: too small for a gateway and containers`, { hint: 'use a /30 or larger block' });
  if (gateway === undefined) return formatIpv4(subnet.address + 1);
  const value = parseIpv4(gateway);
  if (value === undefined) throw new EngineError('INVALID_ARGUMENT', `gateway ${JSON.stringify(gateway)}: not an IPv4 address`);
  if (!cidrContains(subnet, value) || value === subnet.address || value === lastAddress(subnet)) {
    throw new EngineError('INVALID_ARGUMENT', `gateway ${gateway}: not a host address of subnet ${formatCidr(subnet)}`);
  }
  return gateway;
}

/**
 * The first block of `candidates` that overlaps none of `taken`; undefined
 * when all do.
 */
export function pickFreeSubnet(candidates: Iterable<Cidr>, taken: readonly Cidr[]): Cidr | undefined {
  for (const candidate of candidates) {
    if (!taken.some((other) => cidrsOverlap(candidate, other))) return candidate;
  }
  return undefined;
}

/** The blocks tried for the default network and then for user networks, in order (as Podman does: 10.88/16, then 10.89.x/24). */
export function* defaultSubnetCandidates(kind: 'default' | 'user'): Generator<Cidr> {
  if (kind === 'default') {
    yield { address: parseIpv4('10.88.0.0')!, prefix: 16 };
    for (let third = 0; third < 256; third++) yield { address: parseIpv4(`10.87.${third}.0`)!, prefix: 24 };
    return;
  }
  for (const second of [89, 90, 91, 92]) {
    for (let third = 0; third < 256; third++) yield { address: parseIpv4(`10.${second}.${third}.0`)!, prefix: 24 };
  }
}
