import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEngineError } from '../common/index.js';
import { basicAuthorization, parseTokenAnswer, parseWwwAuthenticate, TokenCache, tokenUrl } from './auth.js';

test('bearer challenge with quoted values holding commas', () => {
  assert.deepEqual(
    parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"'),
    [
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' },
      },
    ],
  );
});

test('basic challenge, spacing, case and escapes', () => {
  assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseWwwAuthenticate('BEARER  Realm = "a\\"b" , Service=svc'), [
    { scheme: 'bearer', params: { realm: 'a"b', service: 'svc' } },
  ]);
});

test('several challenges in one header and in several headers', () => {
  const both = parseWwwAuthenticate('Bearer realm="https://a/t",service="s", Basic realm="r"');
  assert.deepEqual(both.map((c) => c.scheme), ['bearer', 'basic']);
  assert.equal(both[1]!.params.realm, 'r');
  assert.equal(both[0]!.params.service, 's');
  const split = parseWwwAuthenticate(['Basic realm="x"', 'Bearer realm="y",error="invalid_token"']);
  assert.deepEqual(split.map((c) => [c.scheme, c.params.realm]), [['basic', 'x'], ['bearer', 'y']]);
  assert.equal(split[1]!.params.error, 'invalid_token');
});

test('nothing usable gives no challenges', () => {
  assert.deepEqual(parseWwwAuthenticate(undefined), []);
  assert.deepEqual(parseWwwAuthenticate(''), []);
  assert.deepEqual(parseWwwAuthenticate('   ,  '), []);
  assert.deepEqual(parseWwwAuthenticate('Negotiate'), [{ scheme: 'negotiate', params: {} }]);
});

test('token url carries service and scopes', () => {
  const url = tokenUrl({ scheme: 'bearer', params: { realm: 'https://auth.example/token?x=1', service: 'reg' } }, ['repository:a/b:pull', 'repository:c:pull'], 'pull a');
  assert.equal(url.href, 'https://auth.example/token?x=1&service=reg&scope=repository%3Aa%2Fb%3Apull&scope=repository%3Ac%3Apull');
  assert.throws(() => tokenUrl({ scheme: 'bearer', params: {} }, [], 'pull a'), (e: unknown) => isEngineError(e, 'UNAVAILABLE') && /no usable realm/.test(e.message));
  assert.throws(() => tokenUrl({ scheme: 'bearer', params: { realm: 'file:///etc/passwd' } }, [], 'pull a'), /not an http/);
});

test('token answers', () => {
  assert.deepEqual(parseTokenAnswer('{"token":"t","expires_in":300}', 'c'), { token: 't', expiresIn: 300 });
  assert.deepEqual(parseTokenAnswer('{"access_token":"a"}', 'c'), { token: 'a', expiresIn: 60 });
  assert.throws(() => parseTokenAnswer('<html>', 'pull x'), (e: unknown) => isEngineError(e, 'UNAVAILABLE') && /not JSON/.test(e.message));
  assert.throws(() => parseTokenAnswer('{"token":""}', 'pull x'), /holds no token/);
});

test('token cache expires entries', () => {
  let now = 1_000_000;
  const cache = new TokenCache(() => now);
  cache.set('r', 'repository:a:pull', 'tok', 300);
  assert.equal(cache.get('r', 'repository:a:pull'), 'tok');
  assert.equal(cache.get('r', 'repository:b:pull'), undefined);
  assert.equal(cache.get('other', 'repository:a:pull'), undefined);
  now += 269_000;
  assert.equal(cache.get('r', 'repository:a:pull'), 'tok');
  now += 2_000;
  assert.equal(cache.get('r', 'repository:a:pull'), undefined, 'renewed before the server-side expiry');
  cache.set('r', 's', 'x', 60);
  cache.clear('r');
  assert.equal(cache.get('r', 's'), undefined);
});

test('basic authorization header', () => {
  assert.equal(basicAuthorization({ username: 'u', password: 'p:w' }), `Basic ${Buffer.from('u:p:w').toString('base64')}`);
});
