import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The nats-server binary (Debian puts it in /usr/sbin; .ci/run installs it when missing). */
const BINARY = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';

const listening = (port: number) => new Promise<boolean>((resolve) => {
  const s = tcpConnect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

/**
 * A NATS server of a test's own (JetStream on, its own port and store), so a test can take
 * NATS away and bring it back without touching the machine's shared server.
 */
export class PrivateNats {
  readonly port = 24_000 + Math.floor(Math.random() * 2000);
  readonly url = `nats://127.0.0.1:${this.port}`;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'aitbc-nats-'));
  private child?: ChildProcess;

  async start(): Promise<void> {
    this.child = spawn(BINARY, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.dir], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await listening(this.port))) {
      if (Date.now() > deadline) throw new Error(`private nats-server on ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills the server abruptly (as a crash or a network cut would take it away). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
