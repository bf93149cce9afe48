/**
 * The networks and network_attachments tables (see schema.ts). A network
 * row is the engine's intent for a CNI network (its bridge device, subnet,
 * gateway); an attachment row records one container on one network, from
 * before the CNI ADD until after the DEL, with the configuration list ADD ran
 * and its result, which DEL and CHECK are given back.
 */
import { EngineError } from '../common/index.js';
import type { Database } from './open.js';

export interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  bridge: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  /** The engine made the network's own NAT and FORWARD rules (schema v4); false for networks made before. */
  hostRules: boolean;
  labels: Record<string, string>;
  createdAt: string;
}

export interface NewNetwork {
  id: string;
  name: string;
  driver?: string;
  bridge: string;
  subnet: string;
  gateway: string;
  internal?: boolean;
  labels?: Record<string, string>;
  createdAt?: string;
}

/** A published port as stored: the portmap mapping with the host address ('' = all). */
export interface StoredPort {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

export interface AttachmentRow {
  networkId: string;
  containerId: string;
  containerName: string;
  ifname: string;
  netns: string;
  ip: string | null;
  mac: string | null;
  aliases: string[];
  ports: StoredPort[];
  extraHosts: { host: string; ip: string }[];
  hostsFile: string | null;
  /** The CNI ADD result, JSON text; null while ADD has not finished. */
  result: string | null;
  /** The CNI configuration list ADD ran, JSON text; null for rows made before it was kept (schema v4). */
  conflist: string | null;
  createdAt: string;
}

export type NewAttachment = Omit<AttachmentRow, 'ifname' | 'ip' | 'mac' | 'result' | 'conflist' | 'createdAt'> & { ifname?: string; conflist?: string | null; createdAt?: string };

interface RawNetwork {
  id: string;
  name: string;
  driver: string;
  bridge: string;
  subnet: string;
  gateway: string;
  internal: number;
  host_rules: number;
  labels: string;
  created_at: string;
}

interface RawAttachment {
  network_id: string;
  container_id: string;
  container_name: string;
  ifname: string;
  netns: string;
  ip: string | null;
  mac: string | null;
  aliases: string;
  ports: string;
  extra_hosts: string;
  hosts_file: string | null;
  result: string | null;
  conflist: string | null;
  created_at: string;
}

function toNetwork(row: RawNetwork): NetworkRow {
  return {
    id: row.id,
    name: row.name,
    driver: row.driver,
    bridge: row.bridge,
    subnet: row.subnet,
    gateway: row.gateway,
    internal: row.internal !== 0,
    hostRules: row.host_rules !== 0,
    labels: JSON.parse(row.labels) as Record<string, string>,
    createdAt: row.created_at,
  };
}

function toAttachment(row: RawAttachment): AttachmentRow {
  return {
    networkId: row.network_id,
    containerId: row.container_id,
    containerName: row.container_name,
    ifname: row.ifname,
    netns: row.netns,
    ip: row.ip,
    mac: row.mac,
    aliases: JSON.parse(row.aliases) as string[],
    ports: JSON.parse(row.ports) as StoredPort[],
    extraHosts: JSON.parse(row.extra_hosts) as AttachmentRow['extraHosts'],
    hostsFile: row.hosts_file,
    result: row.result,
    conflist: row.conflist,
    createdAt: row.created_at,
  };
}

export function listNetworks(db: Database): NetworkRow[] {
  return (db.prepare('SELECT * FROM networks ORDER BY created_at, name').all() as RawNetwork[]).map(toNetwork);
}

/** A network by exact name, exact id, or unique id prefix; undefined when none; CONFLICT when a prefix is ambiguous. */
export function findNetwork(db: Database, nameOrId: string): NetworkRow | undefined {
  const exact = db.prepare('SELECT * FROM networks WHERE name = ? OR id = ?').get(nameOrId, nameOrId) as RawNetwork | undefined;
  if (exact !== undefined) return toNetwork(exact);
  if (!/^[0-9a-f]{1,63}$/.test(nameOrId)) return undefined;
  const rows = db.prepare("SELECT * FROM networks WHERE id LIKE ? || '%'").all(nameOrId) as RawNetwork[];
  if (rows.length > 1) throw new EngineError('CONFLICT', `network ${nameOrId}: the id prefix matches ${rows.length} networks`, { hint: 'give more of the id, or the name' });
  return rows[0] === undefined ? undefined : toNetwork(rows[0]);
}

/** Like findNetwork, NOT_FOUND when there is none. */
export function getNetwork(db: Database, nameOrId: string): NetworkRow {
  const found = findNetwork(db, nameOrId);
  if (found === undefined) throw new EngineError('NOT_FOUND', `network ${nameOrId} not found`, { hint: 'list networks with: network ls' });
  return found;
}

/**
 * Inserts a network in one immediate transaction. `complete` sees every
 * other network inside the transaction, may fill in fields (a free subnet,
 * a bridge name) and throws to refuse (subnet overlap). A taken name is
 * ALREADY_EXISTS.
 */
export function createNetwork(db: Database, asked: NewNetwork, complete?: (existing: NetworkRow[]) => Partial<NewNetwork>): NetworkRow {
  return db
    .transaction(() => {
      if (db.prepare('SELECT 1 FROM networks WHERE name = ?').get(asked.name) !== undefined) {
        throw new EngineError('ALREADY_EXISTS', `network with name ${asked.name} already exists`);
      }
      const network: NewNetwork = { ...asked, ...complete?.(listNetworks(db)) };
      if (db.prepare('SELECT 1 FROM networks WHERE bridge = ?').get(network.bridge) !== undefined) {
        throw new EngineError('CONFLICT', `create network ${network.name}: bridge ${network.bridge} is used by another network`);
      }
      db.prepare(
        `INSERT INTO networks(id, name, driver, bridge, subnet, gateway, internal, labels, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        network.id,
        network.name,
        network.driver ?? 'bridge',
        network.bridge,
        network.subnet,
        network.gateway,
        network.internal === true ? 1 : 0,
        JSON.stringify(network.labels ?? {}),
        network.createdAt ?? new Date().toISOString(),
      );
      return toNetwork(db.prepare('SELECT * FROM networks WHERE id = ?').get(network.id) as RawNetwork);
    })
    .immediate();
}

/** Deletes a network; CONFLICT while containers are attached; false when there was no such row. */
export function deleteNetwork(db: Database, id: string): boolean {
  return db
    .transaction(() => {
      const row = db.prepare('SELECT * FROM networks WHERE id = ?').get(id) as RawNetwork | undefined;
      if (row === undefined) return false;
      const users = db.prepare('SELECT container_name FROM network_attachments WHERE network_id = ?').pluck().all(id) as string[];
      if (users.length > 0) {
        throw new EngineError('CONFLICT', `remove network ${row.name}: in use by ${users.length} container(s): ${users.join(', ')}`, {
          hint: 'stop or remove those containers first',
        });
      }
      db.prepare('DELETE FROM networks WHERE id = ?').run(id);
      return true;
    })
    .immediate();
}

/** Records that the network's own rules are made (or, false, that they are to be made again). */
export function setNetworkHostRules(db: Database, id: string, made: boolean): void {
  db.prepare('UPDATE networks SET host_rules = ? WHERE id = ?').run(made ? 1 : 0, id);
}

export interface AttachmentFilter {
  networkId?: string;
  containerId?: string;
}

export function listAttachments(db: Database, filter: AttachmentFilter = {}): AttachmentRow[] {
  const where: string[] = [];
  const values: string[] = [];
  if (filter.networkId !== undefined) {
    where.push('network_id = ?');
    values.push(filter.networkId);
  }
  if (filter.containerId !== undefined) {
    where.push('container_id = ?');
    values.push(filter.containerId);
  }
  const sql = `SELECT * FROM network_attachments${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, rowid`;
  return (db.prepare(sql).all(...values) as RawAttachment[]).map(toAttachment);
}

/**
 * Records a container joining a network, before the CNI ADD. The interface
 * name is the next free ethN of that container unless given. `check` sees all
 * attachments of every network inside the transaction (published ports) and
 * throws to refuse. The same container twice on a network is ALREADY_EXISTS.
 */
export function addAttachment(db: Database, attachment: NewAttachment, check?: (existing: AttachmentRow[]) => void): AttachmentRow {
  return db
    .transaction(() => {
      const network = db.prepare('SELECT name FROM networks WHERE id = ?').pluck().get(attachment.networkId) as string | undefined;
      if (network === undefined) throw new EngineError('NOT_FOUND', `network ${attachment.networkId} not found`);
      if (db.prepare('SELECT 1 FROM network_attachments WHERE network_id = ? AND container_id = ?').get(attachment.networkId, attachment.containerId) !== undefined) {
        throw new EngineError('ALREADY_EXISTS', `container ${attachment.containerName} is already attached to network ${network}`);
      }
      check?.(listAttachments(db));
      let ifname = attachment.ifname;
      if (ifname === undefined) {
        const used = new Set(db.prepare('SELECT ifname FROM network_attachments WHERE container_id = ?').pluck().all(attachment.containerId) as string[]);
        let n = 0;
        while (used.has(`eth${n}`)) n++;
        ifname = `eth${n}`;
      }
      db.prepare(
        `INSERT INTO network_attachments(network_id, container_id, container_name, ifname, netns, aliases, ports, extra_hosts, hosts_file, conflist, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        attachment.networkId,
        attachment.containerId,
        attachment.containerName,
        ifname,
        attachment.netns,
        JSON.stringify(attachment.aliases),
        JSON.stringify(attachment.ports),
        JSON.stringify(attachment.extraHosts),
        attachment.hostsFile,
        attachment.conflist ?? null,
        attachment.createdAt ?? new Date().toISOString(),
      );
      return getAttachment(db, attachment.networkId, attachment.containerId)!;
    })
    .immediate();
}

export function getAttachment(db: Database, networkId: string, containerId: string): AttachmentRow | undefined {
  const row = db.prepare('SELECT * FROM network_attachments WHERE network_id = ? AND container_id = ?').get(networkId, containerId) as RawAttachment | undefined;
  return row === undefined ? undefined : toAttachment(row);
}

/** Stores the ADD result and what it assigned, and the host ports finally chosen. */
export function setAttachmentResult(
  db: Database,
  networkId: string,
  containerId: string,
  update: { result: string; ip: string | null; mac: string | null; ports?: StoredPort[] },
): void {
  const sets = ['result = ?', 'ip = ?', 'mac = ?'];
  const values: unknown[] = [update.result, update.ip, update.mac];
  if (update.ports !== undefined) {
    sets.push('ports = ?');
    values.push(JSON.stringify(update.ports));
  }
  const changed = db.prepare(`UPDATE network_attachments SET ${sets.join(', ')} WHERE network_id = ? AND container_id = ?`).run(...values, networkId, containerId);
  if (changed.changes === 0) throw new EngineError('NOT_FOUND', `network attachment of ${containerId.slice(0, 12)} not found`);
}

export function deleteAttachment(db: Database, networkId: string, containerId: string): boolean {
  return db.prepare('DELETE FROM network_attachments WHERE network_id = ? AND container_id = ?').run(networkId, containerId).changes > 0;
}
