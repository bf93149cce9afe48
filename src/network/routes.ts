/**
 * The host's IPv4 routes, read from /proc/net/route (the kernel's own table
 * of the engine's network namespace), so that a new network's subnet does not
 * shadow a network the host already reaches.
 */
import fs from 'node:fs';
import type { Cidr } from './ipv4.js';

export interface HostRoute {
  device: string;
  destination: Cidr;
}

/** `/proc/net/route` stores addresses as hex in host byte order (little-endian on x86 and arm). */
function hexToAddress(hex: string): number {
  const value = parseInt(hex, 16) >>> 0;
  const bytes = [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

function maskToPrefix(mask: number): number {
  let prefix = 0;
  while (prefix < 32 && (mask & (0x80000000 >>> prefix)) !== 0) prefix++;
  return prefix;
}

/** Parses the text of /proc/net/route; the default route (prefix 0) is left out. */
export function parseProcRoutes(text: string): HostRoute[] {
  const routes: HostRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const prefix = maskToPrefix(hexToAddress(fields[7]!));
    if (prefix === 0) continue;
    routes.push({ device: fields[0]!, destination: { address: hexToAddress(fields[1]!), prefix } });
  }
  return routes;
}

export function readHostRoutes(file = '/proc/net/route'): HostRoute[] {
  try {
    return parseProcRoutes(fs.readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
}
