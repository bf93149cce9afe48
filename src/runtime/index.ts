export * from './cgroups/index.js';
