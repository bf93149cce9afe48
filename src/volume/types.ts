/**
 * What the volume flags of `run` ask for, parsed: one MountRequest per -v,
 * --mount, --tmpfs (and per VOLUME of the image, per mount inherited with
 * --volumes-from). Nothing here exists yet; the engine turns requests into
 * volumes, directories and OCI mounts.
 */

export type MountKind = 'bind' | 'volume' | 'tmpfs';

/** Mount propagation of a bind, as the kernel and the OCI spec name it. */
export const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'] as const;
export type Propagation = (typeof PROPAGATIONS)[number];

/** The default propagation of binds and volumes (Docker's). */
export const DEFAULT_PROPAGATION: Propagation = 'rprivate';

export interface TmpfsOptions {
  /** size= in bytes; absent: the kernel's default (half of RAM). */
  size?: number;
  /** mode= permission bits of the tmpfs root. */
  mode?: number;
  /** Further mount options as typed (exec, uid=1000, ...). */
  options: string[];
}

export interface MountRequest {
  type: MountKind;
  /**
   * bind: an absolute host path; volume: the volume's name, '' for a new
   * anonymous volume; tmpfs: ''.
   */
  source: string;
  /** Absolute path in the container, normalized (no trailing slash, no `.`). */
  target: string;
  readonly: boolean;
  /** Binds only; default rprivate. */
  propagation?: Propagation;
  /** Volumes: do not fill a new, empty volume with what the image has at the target. */
  noCopy?: boolean;
  /** Binds: make a missing source directory (-v) instead of refusing (--mount). */
  createSource?: boolean;
  /** Volumes made by this mount: labels (--mount volume-label=). */
  labels?: Record<string, string>;
  tmpfs?: TmpfsOptions;
  /** The mode string as given after the second colon of -v (Docker shows it in inspect). */
  mode: string;
  /** Where the request came from, for messages: `-v /a:/b`, `--mount ...`, `image VOLUME /data`. */
  origin: string;
}

/** `--volumes-from CONTAINER[:ro|rw]`. */
export interface VolumesFromRequest {
  container: string;
  /** Forces every inherited mount read-only or read-write; absent: as the other container has it. */
  mode?: 'ro' | 'rw';
}

/** A mount as recorded for a container (inspect's Mounts and --volumes-from read it back). */
export interface RecordedMount {
  type: MountKind;
  /** The volume's name (volumes only). */
  name?: string;
  /** Host path (bind, volume's _data); '' for tmpfs. */
  source: string;
  destination: string;
  mode: string;
  rw: boolean;
  /** '' for tmpfs. */
  propagation: string;
  /** Created for this container only (anonymous volume: removed with it by rm -v / run --rm). */
  anonymous?: boolean;
}

/** Docker's MountPoint shape in `inspect` (Mounts). */
export interface InspectMount {
  Type: MountKind;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}
