import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiHost, canonicalRegistry, credentialKey, isInsecureRegistry, isLoopbackHost, registryFromCredentialKey } from './hosts.js';

test('loopback registries', () => {
  for (const h of ['localhost', 'localhost:5000', '127.0.0.1', '127.0.0.1:5000', '127.8.9.10:1', '[::1]:5000', '::1']) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ['10.0.0.1:5000', 'example.com', '128.0.0.1', 'localhost.example.com', '[::2]:5000', 'docker.io']) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

test('insecure registry list', () => {
  const list = ['myreg.example:5000', '10.0.0.0/8', 'plain.example'];
  assert.equal(isInsecureRegistry('myreg.example:5000', list), true);
  assert.equal(isInsecureRegistry('myreg.example', list), false);
  assert.equal(isInsecureRegistry('10.1.2.3:5000', list), true);
  assert.equal(isInsecureRegistry('11.1.2.3:5000', list), false);
  assert.equal(isInsecureRegistry('plain.example:443', list), true);
  assert.equal(isInsecureRegistry('docker.io', list), false);
});

test('docker hub names', () => {
  assert.equal(canonicalRegistry('index.docker.io'), 'docker.io');
  assert.equal(canonicalRegistry('registry-1.docker.io'), 'docker.io');
  assert.equal(apiHost('docker.io'), 'registry-1.docker.io');
  assert.equal(apiHost('quay.io'), 'quay.io');
  assert.equal(credentialKey('docker.io'), 'https://index.docker.io/v1/');
  assert.equal(credentialKey('index.docker.io'), 'https://index.docker.io/v1/');
  assert.equal(credentialKey('localhost:5000'), 'localhost:5000');
  assert.equal(credentialKey('https://localhost:5000/v2/'), 'localhost:5000');
  assert.equal(registryFromCredentialKey('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryFromCredentialKey('http://reg.example:5000'), 'reg.example:5000');
});
