import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { MIN_KEY_LENGTH, parseKeyList, readKeyList } from './apiKeys';
import { FAILED_AUTH } from './callAuth';
import type { ConfigReader } from './config';

/** PEM text of the mesh's CA, this process's certificate and its private key. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** How a process proves itself to the mesh and checks who calls it (plain data, from the environment). */
export interface MeshSecurityConfig {
  /** role:account:key,… — every key this process accepts. */
  apiKeys: string;
  /** This process's own service key, sent on every call it makes ('' when it calls no one). */
  serviceKey: string;
  /** Service accounts allowed to name the end user a call is for (the gateway's). */
  forwarders: string[];
  /** Mutual TLS on every gRPC server and client when set. */
  tls?: TlsFiles;
  /** gRPC server reflection (off unless GRPC_REFLECTION=true). */
  reflection: boolean;
  /** Unknown keys allowed per client address: a burst, then so many a second. */
  failedAuth: { burst: number; perSecond: number };
}

/** What a client sends with each call: its key, and TLS settings when the mesh uses them. */
export interface ClientAuth {
  key: string;
  tls?: TlsFiles;
  /** Who calls (the `service` label of the client metrics). */
  from?: string;
}

/**
 * Reads AITBC_API_KEYS, AITBC_SERVICE_KEY, AITBC_FORWARDERS, GRPC_TLS_* and GRPC_REFLECTION.
 * `self` is the service account a process calls as; its key is AITBC_SERVICE_KEY, else the
 * `service:<self>:KEY` entry of AITBC_API_KEYS. `callsOut`: the process calls other services,
 * so it must have a key of its own.
 */
export function readMeshSecurity(
  r: ConfigReader,
  self: string,
  defaults: { apiKeys?: string; serviceKey?: string; callsOut?: boolean } = {},
): MeshSecurityConfig {
  const apiKeys = readKeyList(r, defaults.apiKeys) ?? '';
  if (!apiKeys) r.problem('AITBC_API_KEYS is required (role:account:key,…): every gRPC call is authenticated with one of its keys');
  let entries: ReturnType<typeof parseKeyList> = [];
  try {
    entries = apiKeys ? parseKeyList(apiKeys) : [];
  } catch {
    // readKeyList has recorded the problem.
  }
  const serviceKey = r.optionalString('AITBC_SERVICE_KEY') ?? defaults.serviceKey
    ?? entries.find((e) => e.role === 'service' && e.account === self)?.key ?? '';
  if (serviceKey && serviceKey.length < MIN_KEY_LENGTH) r.problem(`AITBC_SERVICE_KEY must be at least ${MIN_KEY_LENGTH} characters`);
  const listed = entries.find((e) => e.key === serviceKey);
  if (serviceKey && listed && listed.role !== 'service') r.problem(`AITBC_SERVICE_KEY is listed in AITBC_API_KEYS as a ${listed.role} key; it must be a service key`);
  if (defaults.callsOut && !serviceKey) {
    r.problem(`AITBC_SERVICE_KEY is required (or a service:${self}:KEY entry in AITBC_API_KEYS): ${self} calls other services with it`);
  }
  const forwarders = (r.optionalString('AITBC_FORWARDERS') ?? 'gateway').split(',').map((s) => s.trim()).filter(Boolean);
  const reflection = r.oneOf('GRPC_REFLECTION', 'false', ['true', 'false']) === 'true';
  const failedAuth = {
    burst: r.int('AUTH_FAILURE_BURST', FAILED_AUTH.burst, 1, 1_000_000),
    perSecond: r.int('AUTH_FAILURES_PER_SECOND', FAILED_AUTH.perSecond, 1, 1_000_000),
  };
  return { apiKeys, serviceKey, forwarders, tls: readTls(r), reflection, failedAuth };
}

function readTls(r: ConfigReader): TlsFiles | undefined {
  const names = ['GRPC_TLS_CA', 'GRPC_TLS_CERT', 'GRPC_TLS_KEY'] as const;
  const paths = names.map((n) => r.optionalString(n));
  if (paths.every((p) => !p)) return undefined;
  if (!paths.every(Boolean)) {
    r.problem(`mutual TLS needs all of ${names.join(', ')} (set: ${names.filter((_, i) => paths[i]).join(', ')})`);
    return undefined;
  }
  const [ca, cert, key] = paths.map((p, i) => {
    try {
      return readFileSync(p!, 'utf8');
    } catch (err) {
      r.problem(`${names[i]}: cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return '';
    }
  });
  return { ca, cert, key };
}

/** Server credentials: mutual TLS (client certificates required unless `publicPort`), else plaintext. */
export function serverCredentials(tls: TlsFiles | undefined, publicPort = false): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const pair = [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }];
  // The miner port faces agents outside the mesh: TLS, but their provider key, not a certificate, says who they are.
  return publicPort
    ? grpc.ServerCredentials.createSsl(null, pair, false)
    : grpc.ServerCredentials.createSsl(Buffer.from(tls.ca), pair, true);
}

/** Channel credentials: mutual TLS with this process's certificate, else plaintext. */
export function channelCredentials(tls: TlsFiles | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(Buffer.from(tls.ca), Buffer.from(tls.key), Buffer.from(tls.cert));
}
