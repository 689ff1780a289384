// Runs one command as root inside a throwaway virtual machine: Debian's qemu-system-x86 and a
// Linux kernel from Debian's packages (or this host's own when readable), this host's root file
// system shown read-only over 9p with a tmpfs overlay for writes, no network, nothing
// downloaded but Debian's kernel packages (kernels.mjs). The guest gets a pure cgroup v2
// hierarchy (see guest-init.py), which hosts that keep memory on cgroup v1 cannot offer. KVM is
// used when a short probe boot under it reaches its marker, else software emulation (TCG).
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { release as hostRelease, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { debianKernel } from './kernels.mjs';
import { debianRootfs, foreignNodeModules } from './rootfs.mjs';

const checkout = resolve(new URL('../..', import.meta.url).pathname);
const EXIT_MARKER = /CAPSPAWN-VM-EXIT=(\d+)/;
const ROOT_MARKER = 'capspawn-vm: root mounted';
const BOOTED_MARKER = /capspawn-vm: booted Linux (\S+)/;
const PROBE_MARKER = 'capspawn-vm: kvm probe reached init';
// A KVM boot of the probe's tiny initramfs reaches its init in about a second; hosts where KVM
// cannot run a guest either fail at once (qemu: "failed to set MSR 0x10a") or hang in the
// firmware ("Booting from ROM..."), which this bounds.
const PROBE_SECONDS = 10;
const MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay', 'tun'];
// Under emulation, an x86-64-v2 CPU: with `-cpu max`, qemu 7.2's young AVX emulation let node
// crash (SIGSEGV) in a long run; Debian's node needs no more than this.
export const TCG_CPU = 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16';

/**
 * The machines the runner boots. x64 shows this host's root file system; arm64, always emulated
 * here, boots Debian's arm64 kernel with a root of Debian's arm64 packages (rootfs.mjs) and the
 * checkout over it, its node_modules overlaid with arm64 builds of the test tools.
 * `-cpu max` crashed node's workers in trial arm64 runs and was three times slower than this.
 */
const MACHINES = {
  x64: { qemu: 'qemu-system-x86_64', package: 'qemu-system-x86', machine: 'q35', tcgCpu: TCG_CPU, console: 'ttyS0' },
  arm64: {
    qemu: 'qemu-system-aarch64',
    package: 'qemu-system-arm',
    machine: 'virt',
    tcgCpu: 'cortex-a57',
    console: 'ttyAMA0',
    debian: 'arm64',
    kernel: '6.12',
  },
};
const NINEP = 'trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose';

function readable(path, mode = constants.R_OK) {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

const installedKernel = (version) => ({ path: `/boot/vmlinuz-${version}`, version, modules: `/lib/modules/${version}` });

/**
 * Debian's kernel `release` (kernels.mjs) when one is asked for; else $CAPSPAWN_VM_KERNEL, this
 * host's kernel when readable, or the newest installed one with its modules.
 * `{ path, version, modules }`, `modules` being its /lib/modules/VERSION directory.
 */
export function findKernel(release) {
  if (release) return debianKernel(release);
  if (process.env.CAPSPAWN_VM_KERNEL) {
    const path = process.env.CAPSPAWN_VM_KERNEL;
    return { ...installedKernel(path.replace(/^.*vmlinuz-/, '')), path };
  }
  const own = hostRelease();
  if (readable(`/boot/vmlinuz-${own}`) && existsSync(`/lib/modules/${own}/modules.dep`)) return installedKernel(own);
  const installed = (existsSync('/boot') ? readdirSync('/boot') : [])
    .filter((f) => f.startsWith('vmlinuz-') && existsSync(`/lib/modules/${f.slice(8)}/modules.dep`) && readable(`/boot/${f}`))
    .sort((a, b) => statSync(`/boot/${b}`).mtimeMs - statSync(`/boot/${a}`).mtimeMs);
  return installed.length > 0 ? installedKernel(installed[0].slice(8)) : undefined;
}

export function findBusybox() {
  return ['/bin/busybox', '/usr/bin/busybox'].find(
    (p) => existsSync(p) && /static/.test(spawnSync('file', ['-L', p], { encoding: 'utf8' }).stdout ?? 'static'),
  );
}

/**
 * Why no VM can run here (what to install), or undefined when one can. A Debian kernel release
 * asked for is fetched when the VM boots, so only its tools are checked here.
 */
export function vmUnavailableReason({ kernel, arch = 'x64' } = {}) {
  const machine = MACHINES[arch];
  if (!machine) return `no test VM for ${arch}; choose one of ${Object.keys(MACHINES).join(', ')}`;
  if (spawnSync(machine.qemu, ['--version']).error) return `${machine.qemu} is missing (apt-get install ${machine.package})`;
  if (machine.debian) {
    const tool = ['apt-get', 'dpkg-deb', 'depmod', 'xz'].find((t) => spawnSync(t, ['--version']).error);
    return tool ? `${tool} is missing, which fetching Debian's ${arch} packages needs` : undefined;
  }
  if (kernel) {
    const tool = ['apt-get', 'dpkg-deb', 'depmod', 'xz'].find((t) => spawnSync(t, ['--version']).error);
    if (tool) return `${tool} is missing, which fetching a Debian kernel needs`;
  } else if (!findKernel())
    return 'no readable kernel with its modules (apt-get install linux-image-amd64, or ask for a Debian kernel release)';
  if (!findBusybox()) return 'no static busybox (apt-get install busybox-static)';
  if (!existsSync('/usr/bin/python3')) return 'no /usr/bin/python3 for the guest init';
  return undefined;
}

/**
 * The module files to load, dependencies first, from modules.dep: `names` (default: the test
 * VM's) of `kernel` (findKernel's, or the version of one installed in /lib/modules).
 */
export function moduleFiles(kernel, names = MODULES) {
  const { version, modules: dir } = typeof kernel === 'string' ? installedKernel(kernel) : kernel;
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
  for (const name of names) {
    const file = byName.get(name);
    if (file !== undefined) visit(file);
    else if (!builtin.includes(`/${name}.ko`)) throw new Error(`kernel ${version} has no module ${name}, which the guest needs`);
  }
  const compressed = order.find((f) => !/\.ko(\.xz)?$/.test(f));
  if (compressed) throw new Error(`module ${compressed} is compressed other than with xz, which the runner cannot unpack`);
  return order.map((file) => join(dir, file));
}

/** A module as the guest's busybox insmod loads it: plain, not xz-compressed (Debian 13's are). */
function moduleData(file) {
  if (!file.endsWith('.xz')) return readFileSync(file);
  const xz = spawnSync('xz', ['-dc', file], { maxBuffer: 256 << 20 });
  if (xz.status !== 0) throw new Error(`xz could not unpack ${file}: ${xz.error?.message ?? xz.stderr}`);
  return xz.stdout;
}

/**
 * An initramfs (uncompressed "newc" cpio) of a static busybox at /bin/busybox, `init` as /init
 * and `modules` as /m/0.ko, /m/1.ko, ... in their order, unpacked where they are xz-compressed.
 */
export function busyboxInitramfs(busybox, init, modules) {
  return Buffer.concat([
    cpioEntry('bin', 0o40755),
    cpioEntry('m', 0o40755),
    cpioEntry('bin/busybox', 0o100755, readFileSync(busybox)),
    cpioEntry('init', 0o100755, Buffer.from(init)),
    ...modules.map((file, i) => cpioEntry(`m/${i}.ko`, 0o100644, moduleData(file))),
    cpioEntry('TRAILER!!!', 0),
  ]);
}

/** One file of a cpio archive in the "newc" format the kernel unpacks as its initramfs. */
function cpioEntry(name, mode, data = Buffer.alloc(0)) {
  const fields = [0, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, Buffer.byteLength(name) + 1, 0];
  const header = Buffer.from(`070701${fields.map((n) => n.toString(16).padStart(8, '0')).join('')}${name}\0`);
  const pad = (length) => Buffer.alloc((4 - (length % 4)) % 4);
  return Buffer.concat([header, pad(header.length), data, pad(data.length)]);
}

/**
 * The guest's first init. `checkoutLayers` (9p tags, top first): mount the checkout from them
 * over the root, for a root that is not this host's.
 */
function buildInitramfs(modules, command, { busybox = findBusybox(), checkoutLayers = [] } = {}) {
  const stop = 'echo o > /proc/sysrq-trigger; /bin/busybox sleep 60';
  const layers = checkoutLayers.map((tag) => `/layers/${tag}`);
  const checkoutMount =
    checkoutLayers.length === 0
      ? ''
      : `/bin/busybox mkdir -p ${layers.join(' ')} /rw/co-upper /rw/co-work /newroot${checkout}
${checkoutLayers.map((tag, i) => `/bin/busybox mount -t 9p -o ${NINEP} ${tag} ${layers[i]} || { echo "capspawn-vm: cannot mount ${tag} over 9p"; ${stop}; }`).join('\n')}
/bin/busybox mount -t overlay -o lowerdir=${layers.join(':')},upperdir=/rw/co-upper,workdir=/rw/co-work overlay /newroot${checkout} || { echo "capspawn-vm: cannot mount the checkout's overlay"; ${stop}; }
`;
  const init = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /dev /host /rw /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
for m in ${modules.map((_, i) => `/m/${i}.ko`).join(' ')}; do
  /bin/busybox insmod $m || { echo "capspawn-vm: cannot load module $m"; ${stop}; }
done
/bin/busybox mount -t 9p -o ${NINEP} hostroot /host || { echo "capspawn-vm: cannot mount the host root over 9p"; ${stop}; }
/bin/busybox mount -t tmpfs -o mode=755 rw /rw
/bin/busybox mkdir -p /rw/upper /rw/work
/bin/busybox mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || { echo "capspawn-vm: cannot mount the overlay"; ${stop}; }
${checkoutMount}echo "${ROOT_MARKER}"
/bin/busybox umount /proc
exec /bin/busybox env CAPSPAWN_VM_CHECKOUT=${checkout} CAPSPAWN_VM_COMMAND=${Buffer.from(JSON.stringify(command)).toString('hex')} /bin/busybox switch_root /newroot /usr/bin/python3 ${checkout}/scripts/vm/guest-init.py
`;
  return gzipSync(busyboxInitramfs(busybox, init, modules));
}

/** An initramfs whose init only prints PROBE_MARKER and powers off. */
function buildProbeInitramfs() {
  const init = `#!/bin/busybox sh\necho "${PROBE_MARKER}"\n/bin/busybox poweroff -f\n`;
  return gzipSync(
    Buffer.concat([
      cpioEntry('bin', 0o40755),
      cpioEntry('bin/busybox', 0o100755, readFileSync(findBusybox())),
      cpioEntry('init', 0o100755, Buffer.from(init)),
      cpioEntry('TRAILER!!!', 0),
    ]),
  );
}

/** `shares`: 9p tag to host directory, shown read-only; the guest's root is `hostroot`. */
function boot(kernel, initrd, accel, timeoutSeconds, onOutput, stopAt, { arch = 'x64', shares = { hostroot: '/' } } = {}) {
  const machine = MACHINES[arch];
  const args = [
    '-machine',
    `${machine.machine},accel=${accel}`,
    '-cpu',
    accel === 'kvm' ? 'host' : machine.tcgCpu,
    '-m',
    '4096',
    '-smp',
    '2',
    '-nographic',
    '-no-reboot',
    '-kernel',
    kernel,
    '-initrd',
    initrd,
    '-append',
    `console=${machine.console} panic=-1 quiet loglevel=3`,
    ...Object.entries(shares).flatMap(([tag, path]) => [
      '-virtfs',
      `local,path=${path},mount_tag=${tag},security_model=none,readonly=on,multidevs=remap`,
    ]),
    '-nic',
    'none',
  ];
  return new Promise((done) => {
    const qemu = spawn(machine.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let console = '';
    const timer = setTimeout(() => {
      qemu.kill('SIGKILL');
      done({ kind: 'timeout', console });
    }, timeoutSeconds * 1000);
    const onData = (chunk) => {
      console += chunk.toString();
      onOutput?.(chunk.toString());
      if (stopAt && console.includes(stopAt)) qemu.kill('SIGKILL');
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
 * The accelerator to boot `kernelPath` with: `{ accel, why }`. KVM only when a probe boot under
 * it reaches its marker within PROBE_SECONDS; $CAPSPAWN_VM_ACCEL skips the probe.
 * $CAPSPAWN_VM_KVM_DEVICE (default /dev/kvm) lets the probe's tests run on hosts without one.
 */
export async function probeAccelerator(kernelPath) {
  const asked = process.env.CAPSPAWN_VM_ACCEL;
  if (asked) return { accel: asked, why: 'CAPSPAWN_VM_ACCEL' };
  const device = process.env.CAPSPAWN_VM_KVM_DEVICE ?? '/dev/kvm';
  if (!readable(device, constants.R_OK | constants.W_OK)) return { accel: 'tcg', why: `no usable ${device}` };
  const work = mkdtempSync(join(tmpdir(), 'capspawn-vm-probe-'));
  try {
    const initrd = join(work, 'probe.gz');
    writeFileSync(initrd, buildProbeInitramfs());
    const started = Date.now();
    const probe = await boot(kernelPath, initrd, 'kvm', PROBE_SECONDS, undefined, PROBE_MARKER);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (probe.console.includes(PROBE_MARKER)) return { accel: 'kvm', why: `a probe boot reached its init in ${seconds} s` };
    const last = probe.console
      // eslint-disable-next-line no-control-regex -- terminal escapes the firmware writes
      .replace(/\x1b(\[[0-9;?]*[A-Za-z]|c)/g, '')
      .trim()
      .split('\n')
      .pop()
      ?.trim()
      .slice(0, 160);
    const how = probe.kind === 'timeout' ? `hung for ${PROBE_SECONDS} s` : 'stopped';
    return {
      accel: 'tcg',
      why: `KVM ${how} without booting a probe (${last || 'no output'}); software emulation took over after ${seconds} s`,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Runs `command` (argv, in the checkout, as root) in a VM. Resolves with `{ status, accel,
 * why, console, seconds, kernel }` (`kernel`: the release the guest reported booting; `why`:
 * why that accelerator); rejects with an error that says what went wrong (a kernel panic, a
 * timeout, a guest that never mounted the host root). `kernel` in the options: a Debian
 * release (kernels.mjs) to boot instead of this host's; `modules`: more of its modules to load
 * at boot, such as `['loop']` for block devices (the VM has no disk); a kernel not installed on
 * this host has its modules nowhere modprobe would look in the guest.
 */
export async function runInVm(
  command,
  { timeoutSeconds = 1800, onOutput, onAccelerator, kernel: release, arch = 'x64', modules = [] } = {},
) {
  const unavailable = vmUnavailableReason({ kernel: release, arch });
  if (unavailable) throw new Error(`cannot run a VM here: ${unavailable}`);
  const machine = MACHINES[arch];
  const foreign = machine.debian !== undefined;
  const kernel = foreign ? debianKernel(release ?? machine.kernel, machine.debian) : findKernel(release);
  let image = { shares: { hostroot: '/' } };
  if (foreign) {
    const { root, busybox } = debianRootfs(machine.debian);
    const nodeModules = foreignNodeModules(machine.debian, arch);
    image = { shares: { hostroot: root, nodemodules: nodeModules, checkout }, busybox, checkoutLayers: ['nodemodules', 'checkout'] };
  }
  const work = mkdtempSync(join(tmpdir(), 'capspawn-vm-'));
  const initrd = join(work, 'initrd.gz');
  writeFileSync(initrd, buildInitramfs(moduleFiles(kernel, [...MODULES, ...modules]), command, image));
  const started = Date.now();
  try {
    // An arm64 guest on this x86_64 host has no KVM to probe.
    const { accel, why } = foreign
      ? { accel: 'tcg', why: `an ${arch} machine on an ${process.arch} host is emulated` }
      : await probeAccelerator(kernel.path);
    onAccelerator?.(accel, why);
    const result = await boot(kernel.path, initrd, accel, timeoutSeconds, onOutput, undefined, { arch, shares: image.shares });
    const seconds = Math.round((Date.now() - started) / 1000);
    const booted = BOOTED_MARKER.exec(result.console)?.[1];
    if (result.kind === 'done')
      return { status: result.status, accel, why, console: result.console, seconds, kernel: booted ?? kernel.version };
    if (result.kind === 'timeout') throw new Error(`the VM did not finish within ${timeoutSeconds} s and was killed`);
    if (result.kind === 'error') throw new Error(`qemu could not start: ${result.error.message}`);
    if (/Kernel panic/.test(result.console)) throw new Error(`the guest kernel panicked:\n${result.console.slice(-2000)}`);
    const failure =
      /capspawn-vm: (?!booted |root mounted).*/.exec(result.console)?.[0] ??
      (result.rootMounted ? 'the guest stopped before its command reported' : 'the guest never mounted the host root');
    throw new Error(`${failure} (qemu exited ${result.code}):\n${result.console.slice(-2000)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
