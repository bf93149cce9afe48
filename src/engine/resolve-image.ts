/**
 * Finding the image a user means, in Docker's order: a reference (name, tag
 * or name@digest), then a full image id, then a unique id prefix.
 */
import { EngineError } from '../common/index.js';
import { images, type Database, type ImageRow } from '../db/index.js';
import { formatReference, fullName, parseReference, type ImageReference } from '../image/index.js';

export function resolveImage(db: Database, input: string): ImageRow {
  const byRef = lookupReference(db, input);
  if (byRef !== undefined) return byRef;
  const ids = images.imageIdsByPrefix(db, input);
  if (ids.length === 1 && /^(sha256:)?[0-9a-f]+$/.test(input)) return images.getImage(db, ids[0]!)!;
  if (ids.length > 1) {
    throw new EngineError('INVALID_ARGUMENT', `image ${input}: ambiguous id prefix, matches ${ids.length} images`);
  }
  throw new EngineError('NOT_FOUND', `no such image: ${input}`);
}

/** The image behind a reference, if the input parses as one and it is known. */
function lookupReference(db: Database, input: string): ImageRow | undefined {
  let ref: ImageReference;
  try {
    ref = parseReference(input);
  } catch {
    return undefined;
  }
  if (ref.digest !== undefined) {
    const ids = images.imageIdsByRepoDigest(db, `${fullName(ref)}@${ref.digest}`);
    return ids[0] === undefined ? undefined : images.getImage(db, ids[0]);
  }
  const id = images.imageIdForTag(db, formatReference(ref));
  return id === undefined ? undefined : images.getImage(db, id);
}
