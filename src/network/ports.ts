/**
 * `-p` / `--publish`: Docker's spellings of a published port, parsed into
 * the port mappings the portmap plugin takes as its runtime config.
 *
 *   80                      container port 80 on a free host port
 *   8080:80                 host port 8080 -> container port 80
 *   127.0.0.1:8080:80       only on that host address
 *   127.0.0.1::80           that address, a free host port
 *   8080-8081:80-81/udp     ranges of equal length, udp
 */
import { EngineError } from '../common/index.js';
import { parseIpv4 } from './ipv4.js';

export type PortProtocol = 'tcp' | 'udp';

/** One published port as asked: hostPort 0 means "pick a free one". */
export interface PublishRequest {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
}

/** The portmap plugin's portMappings entry (CNI conventions). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
  hostIP?: string;
}

function invalid(spec: string, why: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', `publish ${JSON.stringify(spec)}: ${why}`, {
    hint: 'use [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp] or CONTAINERPORT',
  });
}

function parseRange(spec: string, text: string, what: string): [number, number] {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (match === null) throw invalid(spec, `${what} ${JSON.stringify(text)} is not a port or a range`);
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  for (const port of [first, last]) if (port < 1 || port > 65535) throw invalid(spec, `${what} ${port} is out of range 1-65535`);
  if (last < first) throw invalid(spec, `${what} range ${text} ends before it starts`);
  return [first, last];
}

/** Parses one `-p` value into one request per port. */
export function parsePublish(spec: string): PublishRequest[] {
  let rest = spec.trim();
  let protocol: PortProtocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const proto = rest.slice(slash + 1).toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp') throw invalid(spec, `protocol ${JSON.stringify(proto)} is not tcp or udp`);
    protocol = proto;
    rest = rest.slice(0, slash);
  }
  const parts = rest.split(':');
  let hostIp = '';
  let hostText = '';
  let containerText: string;
  if (parts.length === 1) containerText = parts[0]!;
  else if (parts.length === 2) [hostText, containerText] = parts as [string, string];
  else if (parts.length === 3) [hostIp, hostText, containerText] = parts as [string, string, string];
  else throw invalid(spec, 'too many colons (IPv6 host addresses are not supported)');
  if (hostIp !== '' && parseIpv4(hostIp) === undefined) throw invalid(spec, `host address ${JSON.stringify(hostIp)} is not an IPv4 address`);
  if (hostIp === '0.0.0.0') hostIp = '';
  const [cFirst, cLast] = parseRange(spec, containerText, 'container port');
  const count = cLast - cFirst + 1;
  let hFirst = 0;
  if (hostText !== '') {
    const [first, last] = parseRange(spec, hostText, 'host port');
    if (last - first + 1 !== count) throw invalid(spec, 'the host and container port ranges differ in length');
    hFirst = first;
  }
  const out: PublishRequest[] = [];
  for (let i = 0; i < count; i++) out.push({ hostIp, hostPort: hFirst === 0 ? 0 : hFirst + i, containerPort: cFirst + i, protocol });
  return out;
}

/** Parses every `-p` value; the same host address, port and protocol twice is an error. */
export function parsePublishList(specs: readonly string[]): PublishRequest[] {
  const all = specs.flatMap(parsePublish);
  const seen = new Set<string>();
  for (const request of all) {
    if (request.hostPort === 0) continue;
    const key = `${request.hostIp}:${request.hostPort}/${request.protocol}`;
    if (seen.has(key)) throw new EngineError('INVALID_ARGUMENT', `publish: host port ${request.hostPort}/${request.protocol} is given twice`);
    seen.add(key);
  }
  return all;
}

/** Docker's text for a mapping: `0.0.0.0:8080->80/tcp`. */
export function formatPortMapping(mapping: PortMapping): string {
  return `${mapping.hostIP ?? '0.0.0.0'}:${mapping.hostPort}->${mapping.containerPort}/${mapping.protocol}`;
}
