/**
 * Platforms (os/arch/variant) in OCI's vocabulary, and the choice of one
 * manifest out of an index.
 */
import { EngineError } from '../common/index.js';
import type { Descriptor, ImageIndex, Platform } from './manifest.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's process.arch -> OCI's GOARCH-style architecture (and variant). */
const NODE_ARCH: Record<string, { architecture: string; variant?: string }> = {
  x64: { architecture: 'amd64' },
  arm64: { architecture: 'arm64', variant: 'v8' },
  arm: { architecture: 'arm', variant: 'v7' },
  ia32: { architecture: '386' },
  ppc64: { architecture: 'ppc64le' },
  s390x: { architecture: 's390x' },
  riscv64: { architecture: 'riscv64' },
  mips: { architecture: 'mips' },
  mipsel: { architecture: 'mipsle' },
  loong64: { architecture: 'loong64' },
};

/** Other names people and tools use for the same architecture. */
const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
  i686: { architecture: '386' },
};

/** The platform of this host, as an index names it. */
export function hostPlatform(arch: string = process.arch, platform: string = process.platform): PlatformSpec {
  const mapped = NODE_ARCH[arch] ?? { architecture: arch };
  const spec: PlatformSpec = { os: platform === 'win32' ? 'windows' : platform, architecture: mapped.architecture };
  if (mapped.variant !== undefined) spec.variant = mapped.variant;
  return spec;
}

/** Parses `os/arch[/variant]` (`linux/arm64`, `linux/arm/v7`). */
export function parsePlatform(text: string): PlatformSpec {
  const parts = text.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw new EngineError('INVALID_ARGUMENT', `invalid platform ${JSON.stringify(text)}: expected os/arch[/variant], like linux/amd64`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  const spec: PlatformSpec = { os: os.toLowerCase(), architecture: architecture.toLowerCase() };
  if (variant !== undefined) spec.variant = variant.toLowerCase();
  return normalizePlatform(spec);
}

/**
 * The canonical form used for comparison: aliases resolved, arm64's default
 * variant v8 dropped, 32-bit arm's missing variant taken as v7 (as containerd
 * does).
 */
export function normalizePlatform(p: PlatformSpec | Platform): PlatformSpec {
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  const alias = ARCH_ALIASES[architecture];
  if (alias !== undefined) {
    architecture = alias.architecture;
    variant ??= alias.variant;
  }
  if (variant !== undefined && /^\d+$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'arm64' && (variant === 'v8' || variant === '')) variant = undefined;
  if (architecture === 'arm' && (variant === undefined || variant === '')) variant = 'v7';
  if (variant === '') variant = undefined;
  const out: PlatformSpec = { os: p.os.toLowerCase(), architecture };
  if (variant !== undefined) out.variant = variant;
  return out;
}

export function formatPlatform(p: PlatformSpec | Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Index entries that describe something else than a runnable image (BuildKit attestations). */
function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown');
}

/**
 * Picks the manifest for a platform out of an index. An entry matches when os
 * and architecture are equal and, if the wanted platform names a variant, the
 * variant is equal too (after normalizing); an exact variant match wins over
 * a looser one. When nothing matches, the NOT_FOUND error lists what exists.
 */
export function choosePlatform(index: ImageIndex, wanted: PlatformSpec = hostPlatform()): Descriptor {
  const want = normalizePlatform(wanted);
  const candidates = index.manifests.filter((d) => !isAttestation(d));
  let loose: Descriptor | undefined;
  for (const d of candidates) {
    if (d.platform === undefined) continue;
    const have = normalizePlatform(d.platform);
    if (have.os !== want.os || have.architecture !== want.architecture) continue;
    if (have.variant === want.variant) return d;
    if (wanted.variant === undefined || want.variant === undefined) loose ??= d;
  }
  if (loose !== undefined) return loose;
  // An index with a single entry that states no platform: the only choice there is.
  if (candidates.length === 1 && candidates[0]!.platform === undefined) return candidates[0]!;

  const available = [...new Set(candidates.filter((d) => d.platform).map((d) => formatPlatform(d.platform!)))];
  throw new EngineError(
    'NOT_FOUND',
    `no manifest for platform ${formatPlatform(wanted)} in the index` +
      (available.length > 0 ? `; it has ${available.join(', ')}` : '; it names no platforms'),
    { hint: available.length > 0 ? `choose one with --platform ${available[0]}` : undefined },
  );
}
