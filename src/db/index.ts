export { openDatabase, migrate, schemaVersion, type Database, type OpenOptions } from './open.js';
export { MIGRATIONS, type Migration } from './schema.js';
