/** Content-addressed blobs: ingest -> verify -> rename. */
export { createContentStore } from './store.js';
export type {
  BlobInfo,
  BlobProblem,
  ContentStore,
  Ingest,
  IngestStatus,
  OpenIngestOptions,
  VerifyReport,
} from './types.js';
