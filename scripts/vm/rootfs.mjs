// A root file system of another architecture's Debian packages for the test VM (arm64 under
// qemu-system-aarch64): the packages below and everything they depend on, resolved by apt in a
// private configuration (kernels.mjs: its own sources list, lists and state, the machine's own
// Debian mirror), fetched with `apt-get download` and unpacked with `dpkg-deb -x`, no package
// script run. Cached between runs; nothing of the host's apt or dpkg state is touched.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { debianMirror, kernelCacheDir, privateApt, run } from './kernels.mjs';

/** The Debian release whose packages make the guest's root (its nodejs is 20.19). */
export const ROOTFS_SUITE = 'trixie';

// What the guest runs: node for the suite, python3 for guest-init.py, a static busybox for the
// initramfs, the tools the tests call (sh, bash, grep, setpriv, capsh, ip, useradd, getent, mknod,
// bwrap), a compiler for the test inspector and node-gyp (the package test builds the addon), and
// npm, which the package test and the README's `npx capspawn` run (Debian's nodejs has no npm).
const PACKAGES = [
  'base-files',
  'base-passwd',
  'bash',
  'dash',
  'coreutils',
  'util-linux',
  'libcap2-bin',
  'mount',
  'passwd',
  'login.defs',
  'libc-bin',
  'grep',
  'sed',
  'findutils',
  'diffutils',
  'gzip',
  'tar',
  'procps',
  'iproute2',
  'bubblewrap',
  'busybox-static',
  'python3',
  'nodejs',
  'npm',
  'gcc',
  'g++',
  'make',
  'libc6-dev',
  // Node's headers: the package test's npm pack builds the addon (prepack) against them.
  'libnode-dev',
];

/** Where root file systems are kept: beside the kernels' cache (kernels.mjs). */
function rootfsCacheDir() {
  return join(dirname(kernelCacheDir()), 'vm-rootfs');
}

/** The names apt would install for `packages` on an empty system, dependencies included. */
function resolvePackages(apt, packages) {
  const plan = run('apt-get', [...apt, '-s', '-q', '--no-install-recommends', 'install', ...packages]);
  return [...plan.matchAll(/^Inst (\S+)/gm)].map((m) => m[1]);
}

/** What dpkg's maintainer scripts would have made and the guest needs. */
function finishRoot(root) {
  // Debian's merged /usr: /bin, /sbin and /lib are links into /usr.
  for (const dir of ['bin', 'sbin', 'lib']) {
    if (!existsSync(join(root, dir))) symlinkSync(`usr/${dir}`, join(root, dir));
  }
  for (const dir of ['proc', 'sys', 'dev', 'run', 'tmp', 'root', 'etc/default'])
    mkdirSync(join(root, dir), { recursive: true, mode: dir === 'tmp' ? 0o1777 : 0o755 });
  // base-passwd's postinst copies its masters; shadow files start empty (the VM is thrown away).
  run('cp', [join(root, 'usr/share/base-passwd/passwd.master'), join(root, 'etc/passwd')]);
  run('cp', [join(root, 'usr/share/base-passwd/group.master'), join(root, 'etc/group')]);
  for (const file of ['etc/shadow', 'etc/gshadow']) writeFileSync(join(root, file), '', { mode: 0o640 });
  writeFileSync(join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n');
  writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(root, 'etc/hostname'), 'capspawn-vm\n');
  // node-gyp builds against Debian's headers (libnode-dev, /usr/include/node), never a download.
  writeFileSync(join(root, 'etc/npmrc'), 'nodedir=/usr\n');
  // The alternatives dpkg would have set up: cc and c++ for the inspector and node-gyp.
  for (const [link, target] of [
    ['usr/bin/cc', 'gcc'],
    ['usr/bin/c++', 'g++'],
    ['usr/bin/awk', 'mawk'],
  ]) {
    if (!existsSync(join(root, link)) && existsSync(join(root, 'usr/bin', target))) symlinkSync(target, join(root, link));
  }
}

/**
 * Debian's `arch` packages unpacked into a cached directory, ready for the guest to mount as its
 * root: `{ root, busybox }`. The cache key is the package list and finishRoot, so a change to
 * either rebuilds it.
 */
export function debianRootfs(arch) {
  const key = createHash('sha256')
    .update(JSON.stringify([ROOTFS_SUITE, arch, PACKAGES, finishRoot.toString()]))
    .digest('hex')
    .slice(0, 12);
  const root = join(rootfsCacheDir(), `${ROOTFS_SUITE}-${arch}-${key}`);
  const ready = () => existsSync(join(root, '.capspawn-complete')) && { root, busybox: join(root, 'usr/bin/busybox') };
  if (ready()) return ready();

  const mirror = debianMirror();
  if (!mirror) throw new Error('no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d to fetch packages from');
  const aptDir = join(rootfsCacheDir(), `apt-${ROOTFS_SUITE}-${arch}`);
  const apt = privateApt(aptDir, mirror, ROOTFS_SUITE, arch);
  run('apt-get', [...apt, '-q', 'update']);
  const names = resolvePackages(apt, PACKAGES);
  const debs = join(rootfsCacheDir(), `debs-${ROOTFS_SUITE}-${arch}`);
  mkdirSync(debs, { recursive: true });
  run('apt-get', [...apt, '-q', 'download', ...names], { cwd: debs });
  const staging = `${root}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const wanted = new Set(names);
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb') && wanted.has(decodeURIComponent(f.split('_')[0])))) {
    run('dpkg-deb', ['-x', join(debs, deb), staging]);
  }
  finishRoot(staging);
  writeFileSync(join(staging, '.capspawn-complete'), `${names.join('\n')}\n`);
  rmSync(root, { recursive: true, force: true });
  renameSync(staging, root);
  rmSync(aptDir, { recursive: true, force: true });
  return ready();
}

/**
 * The checkout's dependencies as `npm ci` installs them on `npmCpu` (an npm cpu name), in a
 * cached directory of their own: the test tools' native parts (rollup, esbuild) for that
 * architecture, nothing built (--ignore-scripts). Keyed by the lock file.
 */
export function foreignNodeModules(debianArch, npmCpu) {
  const checkout = resolve(new URL('../..', import.meta.url).pathname);
  const lock = readFileSync(join(checkout, 'package-lock.json'));
  const key = createHash('sha256').update(npmCpu).update(lock).digest('hex').slice(0, 12);
  const dir = join(rootfsCacheDir(), `node_modules-${debianArch}-${key}`);
  if (existsSync(join(dir, '.capspawn-complete'))) return dir;
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(checkout, file), join(staging, file));
  run('npm', ['ci', `--cpu=${npmCpu}`, '--os=linux', '--libc=glibc', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: staging });
  // Only node_modules is laid over the checkout.
  for (const file of ['package.json', 'package-lock.json']) rmSync(join(staging, file));
  writeFileSync(join(staging, '.capspawn-complete'), '');
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return dir;
}
