/** The registry module: a distribution (v2) client with token/basic auth, ranges and redirects. */
export {
  createRegistryClient,
  DEFAULT_MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  MAX_REDIRECTS,
  type RegistryClient,
  type RegistryClientOptions,
  type RepositoryReference,
  type PingResult,
  type ManifestResult,
  type BlobResult,
  type FetchBlobOptions,
} from './client.js';
export { parseWwwAuthenticate, pullScope, type Challenge, type Credential } from './auth.js';
export {
  createFileCredentialStore,
  createMemoryCredentialStore,
  defaultCredentialsPath,
  type CredentialStore,
  type FileCredentialStoreOptions,
} from './credentials.js';
export { parseRegistryErrors, type RegistryErrorDetail } from './errors.js';
export { apiHost, canonicalRegistry, credentialKey, isLoopbackHost, isInsecureRegistry } from './hosts.js';
