/**
 * The metadata schema, drawn:
 *
 *   images ─┬─< tags                 a tag names one image; an image has 0..n tags
 *           ├─< image_layers >── layers   ordered layer stack (position 0 = base)
 *           └─< containers           a container is made from one image
 *
 *   images(id PK = config digest, manifest_digest, repo_digests JSON,
 *          config JSON, os, architecture, variant, size, created, added_at)
 *   tags(name PK = normalized ref "registry/repo:tag", image_id FK)
 *   layers(chain_id PK, diff_id, parent_chain_id, blob_digest, media_type,
 *          compressed_size, size, added_at)
 *   image_layers(image_id FK, position, chain_id FK)   PK(image_id, position)
 *   layer_refs (view): chain_id, refs = how many images stack this layer
 *   containers(id PK, name UNIQUE, image_id FK, image_ref, config JSON
 *              (immutable intent), state, pid, exit_code, oom_killed,
 *              error, created_at, started_at, finished_at)
 *   networks(id PK, name UNIQUE, driver, bridge UNIQUE, subnet, gateway,
 *            internal, labels JSON, created_at,                       (v2)
 *            host_rules = its NAT/FORWARD rules were made (v4; 0 for
 *            networks made before, whose rules are made at next use))
 *   network_attachments(network_id FK, container_id, container_name, ifname,
 *            netns, ip, mac, aliases/ports/extra_hosts JSON, hosts_file,
 *            result JSON = the CNI ADD result,
 *            conflist JSON = the CNI list ADD ran, given back to DEL (v4;
 *            NULL for rows made before: they were made with the old list))
 *            PK(network_id, container_id)
 *            A row exists from before ADD until after DEL, so a crash in
 *            between leaves something to tear down; a network with rows
 *            cannot be deleted (foreign key).
 *   volumes(name PK, driver, labels JSON, anonymous, created_at)       (v3)
 *   container_mounts(container_id FK -> containers ON DELETE CASCADE,
 *            position, type bind|volume|tmpfs, volume_name FK -> volumes
 *            ON DELETE SET NULL, source, destination, mode, rw,
 *            propagation, anonymous)  PK(container_id, position)
 *            A container's mounts as run planned them (inspect's Mounts,
 *            --volumes-from); a volume with rows is in use.
 *
 * Immutable intent (a container's config) lives apart from mutable state
 * (state, pid, exit code, times); every state change is one BEGIN IMMEDIATE
 * transaction that checks the current state first.
 *
 * Migrations are ordered and append-only: never edit one that has shipped,
 * add the next. `PRAGMA user_version` records how many have run.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'images, tags, layers, containers',
    sql: `
      CREATE TABLE images (
        id              TEXT PRIMARY KEY,
        manifest_digest TEXT,
        repo_digests    TEXT NOT NULL DEFAULT '[]',
        config          TEXT NOT NULL,
        os              TEXT NOT NULL DEFAULT 'linux',
        architecture    TEXT NOT NULL DEFAULT '',
        variant         TEXT,
        size            INTEGER NOT NULL DEFAULT 0,
        created         TEXT,
        added_at        TEXT NOT NULL
      );
      CREATE TABLE tags (
        name     TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
      );
      CREATE INDEX tags_image ON tags(image_id);
      CREATE TABLE layers (
        chain_id        TEXT PRIMARY KEY,
        diff_id         TEXT NOT NULL,
        parent_chain_id TEXT REFERENCES layers(chain_id),
        blob_digest     TEXT,
        media_type      TEXT,
        compressed_size INTEGER,
        size            INTEGER NOT NULL DEFAULT 0,
        added_at        TEXT NOT NULL
      );
      CREATE TABLE image_layers (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        chain_id TEXT NOT NULL REFERENCES layers(chain_id),
        PRIMARY KEY (image_id, position)
      );
      CREATE INDEX image_layers_chain ON image_layers(chain_id);
      CREATE VIEW layer_refs AS
        SELECT l.chain_id AS chain_id, COUNT(il.image_id) AS refs
        FROM layers l LEFT JOIN image_layers il ON il.chain_id = l.chain_id
        GROUP BY l.chain_id;
      CREATE TABLE containers (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        image_id    TEXT REFERENCES images(id),
        image_ref   TEXT NOT NULL,
        config      TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('created','running','paused','stopped','exited','removing','dead')),
        pid         INTEGER,
        exit_code   INTEGER,
        oom_killed  INTEGER NOT NULL DEFAULT 0,
        error       TEXT,
        created_at  TEXT NOT NULL,
        started_at  TEXT,
        finished_at TEXT
      );
      CREATE INDEX containers_image ON containers(image_id);
    `,
  },
  {
    version: 2,
    name: 'networks, network attachments',
    sql: `
      CREATE TABLE networks (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        driver     TEXT NOT NULL DEFAULT 'bridge',
        bridge     TEXT NOT NULL UNIQUE,
        subnet     TEXT NOT NULL,
        gateway    TEXT NOT NULL,
        internal   INTEGER NOT NULL DEFAULT 0,
        labels     TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
      );
      CREATE TABLE network_attachments (
        network_id     TEXT NOT NULL REFERENCES networks(id),
        container_id   TEXT NOT NULL,
        container_name TEXT NOT NULL,
        ifname         TEXT NOT NULL,
        netns          TEXT NOT NULL,
        ip             TEXT,
        mac            TEXT,
        aliases        TEXT NOT NULL DEFAULT '[]',
        ports          TEXT NOT NULL DEFAULT '[]',
        extra_hosts    TEXT NOT NULL DEFAULT '[]',
        hosts_file     TEXT,
        result         TEXT,
        created_at     TEXT NOT NULL,
        PRIMARY KEY (network_id, container_id)
      );
      CREATE INDEX network_attachments_container ON network_attachments(container_id);
    `,
  },
  {
    version: 3,
    name: 'volumes, container mounts',
    sql: `
      CREATE TABLE volumes (
        name       TEXT PRIMARY KEY,
        driver     TEXT NOT NULL DEFAULT 'local',
        labels     TEXT NOT NULL DEFAULT '{}',
        anonymous  INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      );
      CREATE TABLE container_mounts (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        type         TEXT NOT NULL CHECK (type IN ('bind','volume','tmpfs')),
        volume_name  TEXT REFERENCES volumes(name) ON DELETE SET NULL,
        source       TEXT NOT NULL,
        destination  TEXT NOT NULL,
        mode         TEXT NOT NULL DEFAULT '',
        rw           INTEGER NOT NULL DEFAULT 1,
        propagation  TEXT NOT NULL DEFAULT '',
        anonymous    INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (container_id, position)
      );
      CREATE INDEX container_mounts_volume ON container_mounts(volume_name);
    `,
  },
  {
    version: 4,
    name: 'networks keep their own rules, attachments the CNI list ADD ran',
    sql: `
      ALTER TABLE networks ADD COLUMN host_rules INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE network_attachments ADD COLUMN conflist TEXT;
    `,
  },
];
