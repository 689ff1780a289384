// capspawn run at a real terminal (python's pty module plays the person typing): the guest
// gets a pty of its own, so TIOCSTI cannot reach the caller's input; the relay works both
// ways; the caller's terminal modes come back however the guest ends.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnGuest } from '../lib/index.js';
import { ensureCliBuilt, cliPath } from './support/cli.js';
import { FIXTURE_USERS, isRoot, notRootReason } from './support/fixtures.js';

const guest = FIXTURE_USERS.guest.name;
const harness = new URL('./support/on-terminal.py', import.meta.url).pathname;

interface TerminalRun {
  status: number;
  leftover: string;
  restored: boolean;
  output: string;
}

type Step = ['wait', string] | ['send', string] | ['resize', number, number] | ['kill-pid', string];

async function atTerminal(args: string[], steps: Step[] = [], size = { rows: 24, cols: 80 }): Promise<TerminalRun> {
  const { stdout } = await promisify(execFile)(
    'python3',
    [harness, JSON.stringify({ ...size, steps }), '--', process.execPath, cliPath, ...args],
    {
      timeout: 120_000,
    },
  );
  return JSON.parse(stdout) as TerminalRun;
}

const injector = [
  'python3',
  '-c',
  "import fcntl,termios\ntry:\n  [fcntl.ioctl(0, termios.TIOCSTI, bytes([c])) for c in b'echo INJECTED\\n']\n  print('TIOCSTI ok')\nexcept OSError as e:\n  print('TIOCSTI errno', e.errno)",
];

// Linux 6.2 can turn TIOCSTI off for processes without CAP_SYS_ADMIN (dev.tty.legacy_tiocsti
// 0, which Debian 13's kernels, built without CONFIG_LEGACY_TIOCSTI, start with): it then fails
// with EIO before the kernel looks at which terminal it names. Before 6.2 it is always on.
function legacyTiocsti(): boolean {
  try {
    return readFileSync('/proc/sys/dev/tty/legacy_tiocsti', 'utf8').trim() !== '0';
  } catch {
    return true;
  }
}
const TIOCSTI_OFF = 'TIOCSTI errno 5';

beforeAll(ensureCliBuilt);

describe.runIf(isRoot)(`capspawn run on a terminal (${notRootReason})`, () => {
  it("a guest calling TIOCSTI gets no byte into the caller's input: it types into its own pty", async () => {
    const run = await atTerminal(['--user', guest, '--', ...injector]);
    expect(run).toMatchObject({ status: 0, leftover: '', restored: true });
    expect(run.output).toContain(legacyTiocsti() ? 'TIOCSTI ok' : TIOCSTI_OFF);
  }, 120_000);

  it('with --no-pty the guest has no controlling terminal: TIOCSTI fails with EPERM', async () => {
    const run = await atTerminal(['--user', guest, '--no-pty', '--', ...injector]);
    expect(run).toMatchObject({ status: 0, leftover: '', restored: true });
    expect(run.output).toContain(legacyTiocsti() ? 'TIOCSTI errno 1' : TIOCSTI_OFF);
  }, 120_000);

  it('a shell as the guest answers a typed command', async () => {
    const run = await atTerminal(
      ['--user', guest, '--', '/bin/sh', '-i'],
      [
        ['wait', '\\$ '],
        ['send', 'echo hi-$((6*7)) $(id -un)\r'],
        ['wait', `hi-42 ${guest}`],
        ['send', 'exit\r'],
      ],
    );
    expect(run).toMatchObject({ status: 0, leftover: '', restored: true });
  }, 120_000);

  it("stty size inside shows the caller's size, and a resize is seen", async () => {
    expect((await atTerminal(['--user', guest, '--', 'stty', 'size'], [], { rows: 33, cols: 101 })).output).toContain('33 101');
    const watcher =
      // os.write, not print: a handler that prints while print flushes raises a reentrant-call error.
      'import os,signal\nsignal.signal(signal.SIGWINCH, lambda *a: (os.write(1, ("now %d %d\\n" % os.get_terminal_size(0)[::-1]).encode()), os._exit(0)))\nos.write(1, b"ready\\n")\nwhile True: signal.pause()';
    const run = await atTerminal(
      ['--user', guest, '--', 'python3', '-c', watcher],
      [
        ['wait', 'ready'],
        ['resize', 40, 120],
        ['wait', 'now 40 120'],
      ],
    );
    expect(run).toMatchObject({ status: 0, restored: true });
  }, 120_000);

  it('raw mode is restored after kill -9 of the guest (exit 137)', async () => {
    const run = await atTerminal(
      ['--user', guest, '--', 'sh', '-c', 'echo pid:$$; exec sleep 100'],
      [
        ['wait', 'pid:\\d+'],
        ['kill-pid', 'pid:'],
      ],
    );
    expect(run).toMatchObject({ status: 137, restored: true, leftover: '' });
  }, 120_000);

  it('raw mode is restored after Ctrl-C, which reaches the guest through its pty (exit 130)', async () => {
    const run = await atTerminal(
      ['--user', guest, '--', 'sh', '-c', 'echo ready; exec sleep 100'],
      [
        ['wait', 'ready'],
        ['send', '\x03'],
      ],
    );
    expect(run).toMatchObject({ status: 130, restored: true, leftover: '' });
  }, 120_000);
});

describe.runIf(isRoot)(`spawnGuest terminal option (${notRootReason})`, () => {
  const ownFds = () => readdirSync('/proc/self/fd').length;

  it('the guest has the pty slave as fds 0-2 (its own, 0620) and its controlling tty; the master never reaches it', async () => {
    const before = ownFds();
    const g = await spawnGuest(
      '/bin/sh',
      ['-c', 'stat -c "%U %a" $(tty); ls -l /proc/self/fd | grep -c ptmx; set -- $(cat /proc/$$/stat); [ $1 = $6 ] && echo 1 || echo 0'],
      {
        user: guest,
        terminal: { cols: 90, rows: 30 },
      },
    );
    expect(g.stdin).toBeNull();
    let out = '';
    g.terminal?.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => g.terminal?.once('close', resolve));
    expect(await g.exited).toEqual({ code: 0, signal: null });
    expect(out.split(/\r?\n/).filter(Boolean)).toEqual([`${guest} 620`, '0', '1']);
    expect(ownFds()).toBe(before);
  });

  it('resize reaches the guest, and kill and disposal end it as for pipes', async () => {
    const g = await spawnGuest('/bin/sh', ['-c', 'trap "stty size; exit 3" WINCH; echo ready; while :; do sleep 0.05; done'], {
      user: guest,
      terminal: true,
    });
    let out = '';
    g.terminal?.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 20));
    g.terminal?.resize(100, 50);
    expect(await g.exited).toEqual({ code: 3, signal: null });
    expect(out).toContain('50 100');
    const h = await spawnGuest('sleep', ['100'], { user: guest, terminal: true });
    h.terminal?.resume();
    await h[Symbol.asyncDispose]();
    expect(h.signalCode).toBe('SIGTERM');
  });

  it('terminal and stdio slots 0-2 exclude each other, before anything is spawned', async () => {
    await expect(spawnGuest('true', { user: guest, terminal: true, stdio: 'inherit' })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
      option: 'stdio',
    });
    await expect(spawnGuest('true', { user: guest, terminal: true, stdio: [null, 'pipe'] })).rejects.toMatchObject({ option: 'stdio' });
    await expect(spawnGuest('true', { user: guest, terminal: { cols: 0 } })).rejects.toMatchObject({
      code: 'ERR_OUT_OF_RANGE',
      option: 'terminal.cols',
    });
  });
});
