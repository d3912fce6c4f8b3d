import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { createKeyStore, parseKeyList, presentedKey } from '../../lib/apiKeys';
import { createCallAuthenticator, peerHost } from '../../lib/callAuth';
import { Role } from '../../lib/caller';
import { ConfigReader } from '../../lib/config';
import { DomainError } from '../../lib/errors';
import { readMeshSecurity } from '../../lib/meshSecurity';
import { createRateLimiter } from '../../lib/rateLimiter';

const K = (name: string) => `${name}-key-padded-to-24-chars-at-least`;
const LIST = [
  `admin:ops:${K('admin')}`, `provider:acme:${K('acme')}`, `client:alice:${K('k3')}:with:colons`,
  `service:gateway:${K('gateway')}`, `service:coordinator:${K('coordinator')}`,
].join(', ');

describe('API keys', () => {
  const store = createKeyStore(parseKeyList(LIST));

  it('authenticates known keys to their account and role, service keys included', () => {
    assert.deepEqual(store.authenticate(K('acme')), { accountId: 'acme', role: Role.ROLE_PROVIDER });
    assert.deepEqual(store.authenticate(`${K('k3')}:with:colons`), { accountId: 'alice', role: Role.ROLE_CLIENT });
    assert.deepEqual(store.authenticate(K('coordinator')), { accountId: 'coordinator', role: Role.ROLE_SERVICE });
    assert.equal(store.authenticate(`${K('acme')}X`), undefined);
    assert.equal(store.authenticate(''), undefined);
    assert.equal(store.authenticate(undefined), undefined);
  });

  it('takes X-Api-Key, else a Bearer token; an empty key is no key', () => {
    assert.equal(presentedKey({ 'x-api-key': ' abc ' }), 'abc');
    assert.equal(presentedKey({ 'x-api-key': '', authorization: 'Bearer tok' }), 'tok');
    assert.equal(presentedKey({ 'x-api-key': '' }), undefined);
    assert.equal(presentedKey({ authorization: 'Basic abc' }), undefined);
  });

  it('refuses a malformed key list, and keys shorter than 24 characters, without echoing keys', () => {
    assert.throws(() => parseKeyList(''), /no entries/);
    assert.throws(() => parseKeyList(`client:bad account:${K('secret')}`), (e: Error) => !e.message.includes(K('secret')));
    assert.throws(() => parseKeyList(`client:a:${K('same')},client:b:${K('same')}`), /twice/);
    assert.throws(() => parseKeyList('client:a:only-23-characters-long'), (e: Error) =>
      /client:a\): key must be at least 24 characters, got 23/.test(e.message) && !e.message.includes('only-23'));
    assert.throws(() => parseKeyList(`robot:a:${K('x')}`), /client, provider, admin or service/);
  });
});

describe('gRPC call authentication', () => {
  const auth = createCallAuthenticator({ keys: createKeyStore(parseKeyList(LIST)), forwarders: new Set(['gateway']) });
  const md = (key?: string) => {
    const m = new Metadata();
    if (key) m.set('authorization', `Bearer ${key}`);
    return m;
  };
  const code = (fn: () => unknown) => {
    try {
      fn();
      return 'OK';
    } catch (err) {
      return (err as DomainError).code;
    }
  };
  const alice = { accountId: 'alice', role: Role.ROLE_CLIENT };
  const admin = { accountId: 'ops', role: Role.ROLE_ADMIN };

  it('refuses a call with no or an unknown credential, whatever caller it names', () => {
    assert.equal(code(() => auth.authorize(md(), 'ipv4:10.0.0.1:5000', admin)), 'UNAUTHENTICATED');
    assert.equal(code(() => auth.authorize(md('not-a-key'), 'ipv4:10.0.0.2:5000', admin)), 'UNAUTHENTICATED');
  });

  it('acts as the credential when the call names no caller or its own', () => {
    assert.deepEqual(auth.authorize(md(K('coordinator')), 'x', undefined), { accountId: 'coordinator', role: Role.ROLE_SERVICE });
    assert.deepEqual(auth.authorize(md(K('acme')), 'x', { accountId: 'acme', role: Role.ROLE_PROVIDER }), { accountId: 'acme', role: Role.ROLE_PROVIDER });
    assert.deepEqual(auth.authorize(md(K('acme')), 'x', { accountId: '', role: Role.ROLE_UNSPECIFIED }), { accountId: 'acme', role: Role.ROLE_PROVIDER });
  });

  it('honours another caller only from a forwarder, and only a user', () => {
    assert.deepEqual(auth.authorize(md(K('gateway')), 'x', alice), alice);
    assert.deepEqual(auth.authorize(md(K('gateway')), 'x', admin), admin);
    assert.equal(code(() => auth.authorize(md(K('gateway')), 'x', { accountId: 'coordinator', role: Role.ROLE_SERVICE })), 'PERMISSION_DENIED');
    assert.equal(code(() => auth.authorize(md(K('coordinator')), 'x', alice)), 'PERMISSION_DENIED');
    assert.equal(code(() => auth.authorize(md(K('k3') + ':with:colons'), 'x', admin)), 'PERMISSION_DENIED');
    assert.equal(code(() => auth.authorize(md(K('acme')), 'x', { accountId: 'acme', role: Role.ROLE_ADMIN })), 'PERMISSION_DENIED');
    assert.equal(code(() => auth.authorize(md(K('acme')), 'x', { accountId: 'gateway', role: Role.ROLE_SERVICE })), 'PERMISSION_DENIED');
  });

  it('throttles unknown keys by peer host: RESOURCE_EXHAUSTED for them, known keys unaffected', () => {
    let t = 0;
    const throttled = createCallAuthenticator({
      keys: createKeyStore(parseKeyList(LIST)), forwarders: new Set(), throttle: createRateLimiter(1, 3, () => t),
    });
    const codes = Array.from({ length: 5 }, (_, i) => code(() => throttled.credential(md(`guess-${i}`), `ipv4:10.9.9.9:${4000 + i}`)));
    assert.deepEqual(codes, ['UNAUTHENTICATED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'RESOURCE_EXHAUSTED', 'RESOURCE_EXHAUSTED']);
    // Known keys from the same address are never locked out by a neighbour's failures.
    assert.equal(code(() => throttled.credential(md(K('acme')), 'ipv4:10.9.9.9:1')), 'OK');
    assert.equal(code(() => throttled.credential(md(K('gateway')), 'ipv4:10.9.9.9:1')), 'OK');
    assert.equal(code(() => throttled.credential(md('guess-x'), 'ipv4:10.9.9.8:1')), 'UNAUTHENTICATED', 'another host');
    t += 1500;
    assert.equal(code(() => throttled.credential(md('guess-y'), 'ipv4:10.9.9.9:1')), 'UNAUTHENTICATED', 'cooled down');
  });

  it('reads the host of grpc-js peers', () => {
    assert.equal(peerHost('ipv4:127.0.0.1:50051'), '127.0.0.1');
    assert.equal(peerHost('ipv6:[::1]:50051'), '::1');
    assert.equal(peerHost('unix:/tmp/x'), 'unix:/tmp/x');
  });
});

describe('mesh security settings', () => {
  const read = (env: Record<string, string>, defaults: Parameters<typeof readMeshSecurity>[2] = {}) => {
    const r = new ConfigReader(env);
    const config = readMeshSecurity(r, 'booking', defaults);
    r.done();
    return config;
  };

  it("takes a service's own key from its service:<name> entry, forwarders default to the gateway, reflection is off", () => {
    const config = read({ AITBC_API_KEYS: `service:booking:${K('booking')},${LIST}` }, { callsOut: true });
    assert.equal(config.serviceKey, K('booking'));
    assert.deepEqual(config.forwarders, ['gateway']);
    assert.equal(config.reflection, false);
    assert.equal(config.tls, undefined);
  });

  it('names what is missing or wrong', () => {
    assert.throws(() => read({}), /AITBC_API_KEYS is required/);
    assert.throws(() => read({ AITBC_API_KEYS: LIST }, { callsOut: true }), /AITBC_SERVICE_KEY is required \(or a service:booking:KEY entry/);
    assert.throws(() => read({ AITBC_API_KEYS: LIST, AITBC_SERVICE_KEY: K('acme') }), /listed in AITBC_API_KEYS as a provider key/);
    assert.throws(() => read({ AITBC_API_KEYS: LIST, GRPC_TLS_CERT: '/x' }), /mutual TLS needs all of GRPC_TLS_CA, GRPC_TLS_CERT, GRPC_TLS_KEY/);
    assert.throws(() => read({ AITBC_API_KEYS: LIST, GRPC_TLS_CERT: '/nope', GRPC_TLS_KEY: '/nope', GRPC_TLS_CA: '/nope' }), /GRPC_TLS_CA: cannot read \/nope: ENOENT/);
  });
});
