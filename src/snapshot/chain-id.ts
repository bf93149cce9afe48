/**
 * Chain ids name a stack of layers (OCI image spec, "ChainID"):
 *
 *   ChainID(L0) = DiffID(L0)
 *   ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))
 *
 * so an unpacked layer directory is shared only by images whose stacks agree
 * on everything beneath it.
 */
import { EngineError, parseDigest, sha256Digest, type Digest } from '../common/index.js';

/** The chain id of each prefix of the stack, bottom layer first. */
export function chainIds(diffIds: readonly string[]): Digest[] {
  const out: Digest[] = [];
  for (const [index, value] of diffIds.entries()) {
    const diffId = parseDigest(value, `diff id ${index}`);
    const previous = out[index - 1];
    out.push(previous === undefined ? diffId : sha256Digest(`${previous} ${diffId}`));
  }
  return out;
}

/** The chain id of the whole stack. */
export function chainId(diffIds: readonly string[]): Digest {
  const ids = chainIds(diffIds);
  const top = ids[ids.length - 1];
  if (top === undefined) throw new EngineError('INVALID_ARGUMENT', 'chain id: the layer stack is empty');
  return top;
}
