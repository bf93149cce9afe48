/**
 * Image references, parsed and normalized the way Docker does it
 * (distribution's reference grammar):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := the first component, when it contains "." or ":", is
 *                 "localhost", or has an upper-case letter
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [\w][\w.-]{0,127}
 *
 * `busybox` becomes docker.io/library/busybox:latest; `user/repo` becomes
 * docker.io/user/repo:latest. The familiar form drops what is implied again.
 */
import { EngineError, isDigest, type Digest } from '../common/index.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';
/** Docker Hub's API host: references say docker.io, requests go here. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface ImageReference {
  /** Host (and port) of the registry, `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path inside the registry, `library/busybox` for official images. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`,
);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_LIKE_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const HEX64_RE = /^[a-f0-9]{64}$/;
const NAME_TOTAL_MAX = 255;

function invalid(input: string, why: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', `invalid reference ${JSON.stringify(input)}: ${why}`);
}

/** True when the first path component names a registry host rather than a namespace. */
function looksLikeDomain(component: string): boolean {
  return (
    component.includes('.') ||
    component.includes(':') ||
    component === 'localhost' ||
    component.toLowerCase() !== component
  );
}

/**
 * Parses a user's image ref into its normalized parts. A tag-less, digest-less
 * reference gets `latest`; a reference with a digest keeps its tag only if one
 * was written.
 */
export function parseReference(input: string): ImageReference {
  if (typeof input !== 'string' || input.length === 0) {
    throw new EngineError('INVALID_ARGUMENT', 'invalid reference "": the image reference is empty');
  }
  if (/\s/.test(input)) throw invalid(input, 'it contains white space');
  if (HEX64_RE.test(input)) {
    throw invalid(input, 'a 64-character hexadecimal string is an image id, not a repository name');
  }

  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const digestText = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_LIKE_RE.test(digestText)) throw invalid(input, `digest ${JSON.stringify(digestText)} is malformed`);
    if (!isDigest(digestText)) {
      throw invalid(input, `digest ${JSON.stringify(digestText)} is not a sha256 digest of 64 lower-case hex characters`);
    }
    digest = digestText;
  }

  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) {
      throw invalid(input, `tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
    }
  }
  if (rest.length === 0) throw invalid(input, 'the repository name is empty');

  let registry = DEFAULT_REGISTRY;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash !== -1 && looksLikeDomain(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    repository = rest.slice(slash + 1);
    if (!DOMAIN_RE.test(registry)) throw invalid(input, `registry host ${JSON.stringify(registry)} is malformed`);
    if (registry === 'index.docker.io') registry = DEFAULT_REGISTRY;
  }
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;

  if (repository.toLowerCase() !== repository) {
    throw invalid(input, `repository name ${JSON.stringify(repository)} must be lowercase`);
  }
  for (const component of repository.split('/')) {
    if (!COMPONENT_RE.test(component)) {
      throw invalid(
        input,
        component.length === 0
          ? 'the repository name has an empty path component'
          : `path component ${JSON.stringify(component)} may hold only a-z, 0-9 and single separators (. _ __ -) between them`,
      );
    }
  }
  const nameLength = registry.length + 1 + repository.length;
  if (nameLength > NAME_TOTAL_MAX) throw invalid(input, `the repository name is longer than ${NAME_TOTAL_MAX} characters`);

  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  const ref: ImageReference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The repository with its registry: `docker.io/library/busybox`. */
export function fullName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The fully qualified reference: `docker.io/library/busybox:latest`. */
export function formatReference(ref: ImageReference): string {
  return fullName(ref) + suffix(ref);
}

/** The repository as people write it: `busybox`, `user/repo`, `localhost:5000/x`. */
export function familiarRepository(ref: ImageReference): string {
  if (ref.registry !== DEFAULT_REGISTRY) return fullName(ref);
  return ref.repository.startsWith('library/') && ref.repository.split('/').length === 2
    ? ref.repository.slice('library/'.length)
    : ref.repository;
}

/** The reference as people write it: `busybox:latest`, `user/repo@sha256:...`. */
export function familiarName(ref: ImageReference): string {
  return familiarRepository(ref) + suffix(ref);
}

function suffix(ref: ImageReference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** The host to send distribution API requests to: Docker Hub's differs from its name. */
export function registryApiHost(registry: string): string {
  return registry === DEFAULT_REGISTRY ? DOCKER_HUB_API_HOST : registry;
}

/** True for a tag on its own (`3.20`), used when a command takes a tag argument. */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}
