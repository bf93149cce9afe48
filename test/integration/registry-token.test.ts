/**
 * Pulling from a registry behind a token server, through the CLI binary:
 * Debian's docker-registry (distribution v2.8) with `auth: token`, trusting
 * the certificate of our own token server (test/helpers/token-server.ts).
 * Anonymous pulls of a public repository work; a private one is refused with
 * a clear error; after `login` the pull asks the token server once per scope,
 * with the user's basic credentials, and reuses the token for every blob;
 * tokens and passwords never reach the output; `logout` forgets.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pushWithSkopeo, writeTestImageLayout } from '../helpers/images.js';
import { startRegistry, type RegistryCredentials, type TestRegistry } from '../helpers/registry.js';
import { createTempRoot, type TempRoot } from '../helpers/tmp-root.js';
import { startTokenServer, type TestTokenServer, type TokenRequest } from '../helpers/token-server.js';
import { runCli, runCliOk, type CliResult } from '../helpers/cli.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;

const CREDENTIALS: RegistryCredentials = { user: 'learner', password: 'to-k3n-s3rver!' };
const PUBLIC_REPO = 'public/busybox';
const PRIVATE_REPO = 'private/busybox';


/** Runs the CLI asynchronously (the token server lives in this process and must keep answering). */
const cli = (root: TempRoot, args: string[], input = ''): Promise<CliResult> => runCli(root, args, { input });

/** Fails when any token the server handed out, or the password, appears in the output. */
function assertNoSecrets(server: TestTokenServer, result: CliResult): void {
  const output = result.stdout + result.stderr;
  assert.ok(!output.includes(CREDENTIALS.password), 'the password was printed');
  assert.ok(!/bearer\s+[\w-]+\.[\w-]+\./i.test(output), `an authorization header was printed:\n${output}`);
  for (const token of server.issuedTokens) {
    // A JWT's signature part alone is enough to recognise it.
    assert.ok(!output.includes(token.split('.')[2]!), 'a token was printed');
  }
}

/** Token requests made while `run` ran. */
async function requestsDuring(server: TestTokenServer, run: () => Promise<unknown>): Promise<TokenRequest[]> {
  const before = server.requests.length;
  await run();
  return server.requests.slice(before);
}

interface Setup {
  tokens: TestTokenServer;
  registry: TestRegistry;
  layoutDir: string;
}

async function startTokenRegistry(options: Parameters<typeof startTokenServer>[0], layoutDir: string): Promise<Setup> {
  const tokens = await startTokenServer(options);
  let registry: TestRegistry;
  try {
    registry = await startRegistry({ token: tokens.registryAuth() });
  } catch (error) {
    await tokens.stop();
    throw error;
  }
  const setup = { tokens, registry, layoutDir };
  try {
    // skopeo does the token flow itself, with the basic credentials, asking for pull,push.
    await pushWithSkopeo(layoutDir, 'busybox', `${registry.host}/${PRIVATE_REPO}:1.0`, { credentials: CREDENTIALS });
    await pushWithSkopeo(layoutDir, 'busybox', `${registry.host}/${PUBLIC_REPO}:1.0`, { credentials: CREDENTIALS });
  } catch (error) {
    await stopSetup(setup);
    throw error;
  }
  return setup;
}

async function stopSetup(setup: Setup | undefined): Promise<void> {
  if (setup === undefined) return;
  await setup.registry.stop();
  await setup.tokens.stop();
}

let layoutDir: string | undefined;
let main: Setup | undefined;

before(async () => {
  if (skip) return;
  layoutDir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'dctr-token-layout-'));
  writeTestImageLayout(layoutDir);
  main = await startTokenRegistry({ credentials: CREDENTIALS, publicRepositories: [PUBLIC_REPO] }, layoutDir);
});

after(async () => {
  await stopSetup(main);
  if (layoutDir !== undefined) fs.rmSync(layoutDir, { recursive: true, force: true });
});

test('the registry asks for a bearer token from our realm and checks its signature', { skip }, async () => {
  const { registry, tokens } = main!;
  const ping = await fetch(`${registry.url}/v2/`);
  await ping.arrayBuffer();
  assert.equal(ping.status, 401);
  assert.equal(ping.headers.get('www-authenticate'), `Bearer realm="${tokens.realm}",service="${tokens.service}"`);

  // skopeo's pushes went through the token server with the user's credentials.
  const pushes = tokens.requests.filter((r) => r.scopes.some((s) => s.startsWith(`repository:${PRIVATE_REPO}:`)));
  assert.ok(pushes.length >= 1);
  assert.ok(pushes.every((r) => r.authenticated && r.basicUser === CREDENTIALS.user));
  assert.ok(pushes.some((r) => r.scopes.includes(`repository:${PRIVATE_REPO}:pull,push`)), JSON.stringify(pushes));

  const tokenFor = async (server: TestTokenServer, scope: string): Promise<string> => {
    const basic = Buffer.from(`${CREDENTIALS.user}:${CREDENTIALS.password}`).toString('base64');
    const res = await fetch(`${server.realm}?service=${server.service}&scope=${encodeURIComponent(scope)}`, {
      headers: { authorization: `Basic ${basic}` },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.token, body.access_token);
    assert.equal(body.expires_in, 300);
    assert.equal(typeof body.issued_at, 'string');
    return body.token as string;
  };
  const manifest = (token: string) =>
    fetch(`${registry.url}/v2/${PRIVATE_REPO}/manifests/1.0`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
    }).then(async (res) => (await res.arrayBuffer(), res.status));

  assert.equal(await manifest(await tokenFor(tokens, `repository:${PRIVATE_REPO}:pull`)), 200);
  // A token for another repository does not open this one.
  assert.equal(await manifest(await tokenFor(tokens, `repository:${PUBLIC_REPO}:pull`)), 401);
  // Nor does a token signed by a key the registry does not trust (same claims, another server).
  const stranger = await startTokenServer({ credentials: CREDENTIALS });
  try {
    assert.equal(await manifest(await tokenFor(stranger, `repository:${PRIVATE_REPO}:pull`)), 401);
  } finally {
    await stranger.stop();
  }
});

test('anonymous: a public repository pulls, a private one is refused with a clear error', { skip }, async (t) => {
  const { registry, tokens } = main!;
  const root = createTempRoot('dctr-token-anon-');
  t.after(() => root.dispose());

  let pulled: CliResult | undefined;
  const publicRequests = await requestsDuring(tokens, async () => {
    pulled = await runCliOk(root, ['pull', `${registry.host}/${PUBLIC_REPO}:1.0`]);
  });
  assertNoSecrets(tokens, pulled!);
  assert.deepEqual(
    publicRequests.map((r) => ({ scopes: r.scopes, basicUser: r.basicUser, granted: r.granted })),
    [{ scopes: [`repository:${PUBLIC_REPO}:pull`], basicUser: undefined, granted: [{ type: 'repository', name: PUBLIC_REPO, actions: ['pull'] }] }],
  );

  let refused: CliResult | undefined;
  const privateRequests = await requestsDuring(tokens, async () => {
    refused = await cli(root, ['pull', `${registry.host}/${PRIVATE_REPO}:1.0`]);
  });
  assert.equal(refused!.status, 125, refused!.stderr);
  assert.match(refused!.stderr, new RegExp(`pull ${registry.host}/${PRIVATE_REPO}:1\\.0: authentication required`));
  assertNoSecrets(tokens, refused!);
  // The token server was asked (anonymously) and granted nothing.
  assert.ok(privateRequests.length >= 1);
  assert.ok(privateRequests.every((r) => r.basicUser === undefined && r.granted?.length === 0), JSON.stringify(privateRequests));

  const images = JSON.parse((await runCliOk(root, ['images', '--format', 'json'])).stdout) as Array<{ RepoTags?: string[] }>;
  assert.deepEqual(images.flatMap((i) => i.RepoTags ?? []), [`${registry.host}/${PUBLIC_REPO}:1.0`]);
});

test('login, then pull: one token request per scope with basic credentials, reused for every blob; logout forgets', { skip }, async (t) => {
  const { registry, tokens } = main!;
  const root = createTempRoot('dctr-token-login-');
  t.after(() => root.dispose());
  const ref = `${registry.host}/${PRIVATE_REPO}:1.0`;
  const authFile = path.join(root.dir, 'auth.json');

  let wrong: CliResult | undefined;
  const wrongRequests = await requestsDuring(tokens, async () => {
    wrong = await cli(root, ['login', '-u', CREDENTIALS.user, '--password-stdin', registry.host], 'not-the-password\n');
  });
  assert.equal(wrong!.status, 125);
  assert.match(wrong!.stderr, /invalid username or password/);
  assert.ok(!wrong!.stderr.includes('not-the-password'));
  assert.ok(wrongRequests.some((r) => r.basicUser === CREDENTIALS.user && r.status === 401), JSON.stringify(wrongRequests));
  assert.equal(fs.existsSync(authFile), false);

  let login: CliResult | undefined;
  const loginRequests = await requestsDuring(tokens, async () => {
    login = await runCliOk(root, ['login', '-u', CREDENTIALS.user, '--password-stdin', registry.host], { input: `${CREDENTIALS.password}\n` });
  });
  assert.match(login!.stdout, /Login Succeeded/);
  assertNoSecrets(tokens, login!);
  assert.ok(loginRequests.length >= 1 && loginRequests.every((r) => r.authenticated), JSON.stringify(loginRequests));
  assert.equal(fs.statSync(authFile).mode & 0o777, 0o600);
  // The file holds the credentials, never a token.
  const stored = fs.readFileSync(authFile, 'utf8');
  for (const token of tokens.issuedTokens) assert.ok(!stored.includes(token.split('.')[2]!));

  let pulled: CliResult | undefined;
  const pullRequests = await requestsDuring(tokens, async () => {
    pulled = await runCliOk(root, ['pull', ref]);
  });
  assertNoSecrets(tokens, pulled!);
  // Manifest, config and layer were all fetched with the one token of the pull scope.
  assert.deepEqual(
    pullRequests.map((r) => ({ scopes: r.scopes, basicUser: r.basicUser, authenticated: r.authenticated, status: r.status })),
    [{ scopes: [`repository:${PRIVATE_REPO}:pull`], basicUser: CREDENTIALS.user, authenticated: true, status: 200 }],
  );
  const inspect = JSON.parse((await runCliOk(root, ['image', 'inspect', ref, '--format', 'json'])).stdout) as Array<{ RepoTags: string[] }>;
  assert.deepEqual(inspect[0]!.RepoTags, [ref]);
  const check = await runCliOk(root, ['check', '--format', 'json']);
  assert.equal(JSON.parse(check.stdout).healthy, true);

  await runCliOk(root, ['logout', registry.host]);
  assert.deepEqual(JSON.parse(fs.readFileSync(authFile, 'utf8')).auths ?? {}, {});
  let after: CliResult | undefined;
  const afterRequests = await requestsDuring(tokens, async () => {
    after = await cli(root, ['pull', ref]);
  });
  assert.equal(after!.status, 125);
  assert.match(after!.stderr, /authentication required/);
  assert.ok(afterRequests.length >= 1 && afterRequests.every((r) => r.basicUser === undefined), JSON.stringify(afterRequests));
});

test('a token server that refuses anonymous requests outright, with keys named by kid', { skip }, async (t) => {
  const strict = await startTokenRegistry(
    { credentials: CREDENTIALS, anonymousDenied: 'unauthorized', keyHeader: 'kid' },
    layoutDir!,
  );
  const root = createTempRoot('dctr-token-strict-');
  t.after(async () => {
    root.dispose();
    await stopSetup(strict);
  });
  const { registry, tokens } = strict;
  // libtrust's key id format: 12 groups of 4 base32 characters.
  assert.match(tokens.keyId, /^[A-Z2-7]{4}(?::[A-Z2-7]{4}){11}$/);
  const ref = `${registry.host}/${PRIVATE_REPO}:1.0`;

  const refused = await cli(root, ['pull', ref]);
  assert.equal(refused.status, 125, refused.stderr);
  assert.match(refused.stderr, new RegExp(`pull ${registry.host}/${PRIVATE_REPO}:1\\.0: the token server refused an anonymous token`));
  assert.match(refused.stderr, new RegExp(`log in to ${registry.host}`));
  assertNoSecrets(tokens, refused);

  await runCliOk(root, ['login', '-u', CREDENTIALS.user, '--password-stdin', registry.host], { input: `${CREDENTIALS.password}\n` });
  const pullRequests = await requestsDuring(tokens, () => runCliOk(root, ['pull', ref]));
  assert.deepEqual(pullRequests.map((r) => r.scopes), [[`repository:${PRIVATE_REPO}:pull`]]);
  await runCliOk(root, ['logout', registry.host]);
});
