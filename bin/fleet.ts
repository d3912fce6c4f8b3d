import path from 'node:path';
import { generateKey } from '../lib/apiKeys';
import { ConfigReader, readSubjectPrefix } from '../lib/config';
import { runMain } from '../lib/lifecycle';
import { ROOT } from '../lib/paths';
import { ensureDatabase, FLEET_SERVICES, startFleet } from './fleetProcesses';

/**
 * `npm run mesh:fleet`: the mesh as a fleet on this machine's PostgreSQL and NATS: two
 * processes of every service and two gateways, each its own Node.js process, restarted when
 * one dies. Ctrl-C stops them all.
 */
async function main(): Promise<void> {
  const r = new ConfigReader(process.env);
  const databaseUrl = r.url('DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/aitbc_fleet')!;
  const natsUrl = r.url('NATS_URL', ['nats:', 'tls:'], 'nats://127.0.0.1:4222')!;
  const natsPrefix = readSubjectPrefix(r);
  const basePort = r.int('FLEET_BASE_PORT', 7100, 1024, 65_000);
  const replicas = r.int('FLEET_REPLICAS', 2, 1, 5);
  const gateways = r.int('FLEET_GATEWAYS', 2, 1, 5);
  const logDir = path.resolve(r.string('FLEET_LOG_DIR', path.join(ROOT, '.data', 'fleet-logs')));
  // Development clients can book at once, as with npm start.
  const openingBalance = r.string('AITBC_OPENING_BALANCE', '1000');
  const logLevel = r.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
  const userKeys = r.optionalString('AITBC_API_KEYS')
    ?? ['admin:ops', 'provider:provider', 'client:client'].map((ra) => `${ra}:${generateKey(ra.split(':')[0])}`).join(',');
  r.done();
  await ensureDatabase(databaseUrl);
  const fleet = await startFleet({
    databaseUrl, natsUrl, natsPrefix, basePort, replicas, gateways, userKeys, logDir,
    env: { AITBC_OPENING_BALANCE: openingBalance, LOG_LEVEL: logLevel },
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping the fleet…\n');
    void fleet.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const byService = (s: string) => fleet.processes.filter((p) => p.service === s);
  process.stdout.write([
    '',
    `AITBC fleet is up: ${replicas} of each service, ${gateways} gateways (logs in ${logDir})`,
    `  gateways: ${fleet.gatewayUrls.join('  ')}`,
    `  miner ports: ${fleet.minerAddresses.join('  ')}`,
    ...FLEET_SERVICES.map((s) => `  ${s.padEnd(9)} ${byService(s).map((p) => `${p.address} (metrics ${p.metricsAddress})`).join('  ')}`),
    `  data: ${databaseUrl.replace(/\/\/[^@]*@/, '//')}   events: NATS ${natsUrl} (prefix ${natsPrefix})`,
    `  API keys:`,
    ...userKeys.split(',').map((k) => `    ${k}`),
    '',
  ].join('\n'));
}

runMain(main);
