import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCertificates {
  dir: string;
  /** GRPC_TLS_CA, GRPC_TLS_CERT, GRPC_TLS_KEY of a process of the mesh. */
  env: Record<string, string>;
  /** A certificate from another CA, for a client the mesh must refuse. */
  stranger: { ca: string; cert: string; key: string };
  remove(): void;
}

/**
 * A CA and one certificate signed by it for 127.0.0.1 and localhost, usable by servers and
 * clients alike (the mesh's processes share it in tests), made with openssl; and a stranger
 * CA with a certificate of its own.
 */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'aitbc-tls-'));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  writeFileSync(file('ext.cnf'), [
    'subjectAltName = IP:127.0.0.1, DNS:localhost',
    'extendedKeyUsage = serverAuth, clientAuth',
    'basicConstraints = CA:FALSE',
  ].join('\n'));
  for (const who of ['mesh', 'stranger']) {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${who}-test-ca`,
      '-keyout', `${who}-ca.key`, '-out', `${who}-ca.pem`);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who}`, '-keyout', `${who}.key`, '-out', `${who}.csr`);
    openssl('x509', '-req', '-in', `${who}.csr`, '-CA', `${who}-ca.pem`, '-CAkey', `${who}-ca.key`, '-CAcreateserial',
      '-days', '2', '-extfile', 'ext.cnf', '-out', `${who}.pem`);
  }
  return {
    dir,
    env: { GRPC_TLS_CA: file('mesh-ca.pem'), GRPC_TLS_CERT: file('mesh.pem'), GRPC_TLS_KEY: file('mesh.key') },
    stranger: { ca: file('stranger-ca.pem'), cert: file('stranger.pem'), key: file('stranger.key') },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
