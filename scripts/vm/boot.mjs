// Runs one command as root inside a throwaway virtual machine: Debian's qemu-system-x86 and a
// Linux kernel from Debian's packages (or this host's own when readable), this host's root file
// system shown read-only over 9p with a tmpfs overlay for writes, no network, nothing
// downloaded. The guest gets a pure cgroup v2 hierarchy (see guest-init.py), which hosts that
// keep memory on cgroup v1 cannot offer. KVM is used when it can start the guest, else
// software emulation (TCG).
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const checkout = resolve(new URL('../..', import.meta.url).pathname);
const EXIT_MARKER = /CAPSPAWN-VM-EXIT=(\d+)/;
const ROOT_MARKER = 'capspawn-vm: root mounted';
const MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay', 'tun'];
// Under emulation, an x86-64-v2 CPU: with `-cpu max`, qemu 7.2's young AVX emulation let node
// crash (SIGSEGV) in a long run; Debian's node needs no more than this.
export const TCG_CPU = 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16';

function readable(path, mode = constants.R_OK) {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** This host's kernel when readable, else the newest installed one with its modules. */
export function findKernel() {
  if (process.env.CAPSPAWN_VM_KERNEL) {
    const path = process.env.CAPSPAWN_VM_KERNEL;
    return { path, version: path.replace(/^.*vmlinuz-/, '') };
  }
  const own = release();
  if (readable(`/boot/vmlinuz-${own}`) && existsSync(`/lib/modules/${own}/modules.dep`)) return { path: `/boot/vmlinuz-${own}`, version: own };
  const installed = (existsSync('/boot') ? readdirSync('/boot') : [])
    .filter((f) => f.startsWith('vmlinuz-') && existsSync(`/lib/modules/${f.slice(8)}/modules.dep`) && readable(`/boot/${f}`))
    .sort((a, b) => statSync(`/boot/${b}`).mtimeMs - statSync(`/boot/${a}`).mtimeMs);
  return installed.length > 0 ? { path: `/boot/${installed[0]}`, version: installed[0].slice(8) } : undefined;
}

export function findBusybox() {
  return ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p) && /static/.test(spawnSync('file', ['-L', p], { encoding: 'utf8' }).stdout ?? 'static'));
}

/** Why no VM can run here (what to install), or undefined when one can. */
export function vmUnavailableReason() {
  if (spawnSync('qemu-system-x86_64', ['--version']).error) return 'qemu-system-x86_64 is missing (apt-get install qemu-system-x86)';
  if (!findKernel()) return 'no readable kernel with its modules (apt-get install linux-image-amd64)';
  if (!findBusybox()) return 'no static busybox (apt-get install busybox-static)';
  if (!existsSync('/usr/bin/python3')) return 'no /usr/bin/python3 for the guest init';
  return undefined;
}

/** The module files to load, dependencies first, from modules.dep. */
export function moduleFiles(version, modules = MODULES) {
  const dir = `/lib/modules/${version}`;
  const deps = new Map();
  for (const line of readFileSync(join(dir, 'modules.dep'), 'utf8').split('\n')) {
    const [file, rest] = line.split(':');
    if (file) deps.set(file, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((file) => [file.replace(/^.*\//, '').replace(/\.ko(\.\w+)?$/, ''), file]));
  const builtin = readFileSync(join(dir, 'modules.builtin'), 'utf8');
  const order = [];
  const visit = (file) => {
    if (order.includes(file)) return;
    for (const dep of [...deps.get(file)].reverse()) visit(dep);
    order.push(file);
  };
  for (const name of modules) {
    const file = byName.get(name);
    if (file !== undefined) visit(file);
    else if (!builtin.includes(`/${name}.ko`)) throw new Error(`kernel ${version} has no module ${name}, which the guest needs`);
  }
  const compressed = order.find((f) => !f.endsWith('.ko'));
  if (compressed) throw new Error(`module ${compressed} is compressed; the guest's busybox insmod loads only plain .ko files`);
  return order.map((file) => join(dir, file));
}

/** One file of a cpio archive in the "newc" format the kernel unpacks as its initramfs. */
export function cpioEntry(name, mode, data = Buffer.alloc(0)) {
  const fields = [0, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, Buffer.byteLength(name) + 1, 0];
  const header = Buffer.from(`070701${fields.map((n) => n.toString(16).padStart(8, '0')).join('')}${name}\0`);
  const pad = (length) => Buffer.alloc((4 - (length % 4)) % 4);
  return Buffer.concat([header, pad(header.length), data, pad(data.length)]);
}

function buildInitramfs(modules, command) {
  const stop = 'echo o > /proc/sysrq-trigger; /bin/busybox sleep 60';
  const init = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /dev /host /rw /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
for m in ${modules.map((_, i) => `/m/${i}.ko`).join(' ')}; do
  /bin/busybox insmod $m || { echo "capspawn-vm: cannot load module $m"; ${stop}; }
done
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || { echo "capspawn-vm: cannot mount the host root over 9p"; ${stop}; }
/bin/busybox mount -t tmpfs -o mode=755 rw /rw
/bin/busybox mkdir -p /rw/upper /rw/work
/bin/busybox mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || { echo "capspawn-vm: cannot mount the overlay"; ${stop}; }
echo "${ROOT_MARKER}"
/bin/busybox umount /proc
exec /bin/busybox env CAPSPAWN_VM_CHECKOUT=${checkout} CAPSPAWN_VM_COMMAND=${Buffer.from(JSON.stringify(command)).toString('hex')} /bin/busybox switch_root /newroot /usr/bin/python3 ${checkout}/scripts/vm/guest-init.py
`;
  return gzipSync(
    Buffer.concat([
      cpioEntry('bin', 0o40755),
      cpioEntry('m', 0o40755),
      cpioEntry('bin/busybox', 0o100755, readFileSync(findBusybox())),
      cpioEntry('init', 0o100755, Buffer.from(init)),
      ...modules.map((file, i) => cpioEntry(`m/${i}.ko`, 0o100644, readFileSync(file))),
      cpioEntry('TRAILER!!!', 0),
    ]),
  );
}

function boot(kernel, initrd, accel, timeoutSeconds, onOutput) {
  const args = [
    '-machine', `q35,accel=${accel}`, '-cpu', accel === 'kvm' ? 'host' : TCG_CPU, '-m', '4096', '-smp', '2',
    '-nographic', '-no-reboot', '-kernel', kernel, '-initrd', initrd,
    '-append', 'console=ttyS0 panic=-1 quiet loglevel=3',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-nic', 'none',
  ];
  return new Promise((done) => {
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let console = '';
    const timer = setTimeout(() => {
      qemu.kill('SIGKILL');
      done({ kind: 'timeout', console });
    }, timeoutSeconds * 1000);
    const onData = (chunk) => {
      console += chunk.toString();
      onOutput?.(chunk.toString());
    };
    qemu.stdout.on('data', onData);
    qemu.stderr.on('data', onData);
    qemu.on('error', (error) => done({ kind: 'error', error, console }));
    qemu.on('close', (code) => {
      clearTimeout(timer);
      const marker = EXIT_MARKER.exec(console);
      if (marker) done({ kind: 'done', status: Number(marker[1]), console });
      else done({ kind: 'ended', code, rootMounted: console.includes(ROOT_MARKER), console });
    });
  });
}

/**
 * Runs `command` (argv, in the checkout, as root) in a VM. Resolves with `{ status, accel,
 * console, seconds }`; rejects with an error that says what went wrong (a kernel panic, a
 * timeout, a guest that never mounted the host root).
 */
export async function runInVm(command, { timeoutSeconds = 1800, onOutput } = {}) {
  const unavailable = vmUnavailableReason();
  if (unavailable) throw new Error(`cannot run a VM here: ${unavailable}`);
  const kernel = findKernel();
  const work = mkdtempSync(join(tmpdir(), 'capspawn-vm-'));
  const initrd = join(work, 'initrd.gz');
  writeFileSync(initrd, buildInitramfs(moduleFiles(kernel.version), command));
  const started = Date.now();
  try {
    let accel = process.env.CAPSPAWN_VM_ACCEL;
    let result;
    if (!accel && readable('/dev/kvm', constants.R_OK | constants.W_OK)) {
      // Nested KVM often cannot start a guest at all; it then fails within seconds.
      result = await boot(kernel.path, initrd, 'kvm', timeoutSeconds, onOutput);
      accel = 'kvm';
      if (result.kind === 'ended' && !result.rootMounted) result = undefined;
    }
    if (!result) {
      accel = accel === 'kvm' || !accel ? 'tcg' : accel;
      result = await boot(kernel.path, initrd, accel, timeoutSeconds, onOutput);
    }
    const seconds = Math.round((Date.now() - started) / 1000);
    if (result.kind === 'done') return { status: result.status, accel, console: result.console, seconds, kernel: kernel.version };
    if (result.kind === 'timeout') throw new Error(`the VM did not finish within ${timeoutSeconds} s and was killed`);
    if (result.kind === 'error') throw new Error(`qemu could not start: ${result.error.message}`);
    if (/Kernel panic/.test(result.console)) throw new Error(`the guest kernel panicked:\n${result.console.slice(-2000)}`);
    const why = /capspawn-vm: .*/.exec(result.console)?.[0] ?? (result.rootMounted ? 'the guest stopped before its command reported' : 'the guest never mounted the host root');
    throw new Error(`${why} (qemu exited ${result.code}):\n${result.console.slice(-2000)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
