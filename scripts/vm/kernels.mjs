// Debian's kernels for the test VM, by release: fetched from the Debian mirror this machine's
// own apt sources name, through a private apt configuration (its own sources list, lists and
// cache, none of the host's state), with `apt-get download` and `dpkg-deb -x` into a cache
// directory. Nothing is installed: the host's /boot and /lib/modules are never touched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The kernel releases the test VM can boot, and the Debian suite whose kernel each one is. */
export const DEBIAN_KERNELS = { '5.10': 'bullseye', 6.1: 'bookworm', 6.12: 'trixie' };

const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** Where fetched kernels are kept: $CAPSPAWN_VM_CACHE, else ~/.cache/capspawn/vm-kernels. */
export function kernelCacheDir() {
  return process.env.CAPSPAWN_VM_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'capspawn', 'vm-kernels');
}

/**
 * The URI of the Debian archive among this machine's apt sources (one-line .list files and
 * deb822 .sources files): the first `deb` source for a suite without -security, -updates or
 * -backports whose URI is not a security mirror.
 */
export function debianMirror(dir = '/etc/apt') {
  const files = [join(dir, 'sources.list')];
  const parts = join(dir, 'sources.list.d');
  if (existsSync(parts))
    files.push(
      ...readdirSync(parts)
        .filter((f) => /\.(list|sources)$/.test(f))
        .map((f) => join(parts, f)),
    );
  const sources = [];
  for (const file of files.filter(existsSync)) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name) => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(stanza)?.[1].trim().split(/\s+/) ?? [];
        if (/^enabled:\s*no/im.test(stanza) || !field('Types').includes('deb')) continue;
        for (const uri of field('URIs')) sources.push({ uri, suites: field('Suites') });
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
        if (m) sources.push({ uri: m[1], suites: [m[2]] });
      }
    }
  }
  const archive = sources.find((s) => !/security/.test(s.uri) && s.suites.some((suite) => /^[a-z]+$/.test(suite)));
  return archive?.uri.replace(/\/+$/, '');
}

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.error) throw new Error(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.filter((a) => !a.startsWith('Dir')).join(' ')} failed (${result.status}):\n${(result.stderr || result.stdout).slice(-2000)}`,
    );
  return result.stdout;
}

/** apt's options for a configuration of its own in `dir`: none of the host's lists, cache or state. */
export function privateApt(dir, mirror, suite, arch) {
  for (const sub of ['lists/partial', 'archives/partial']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'sources.list'), `deb [arch=${arch} signed-by=${KEYRING}] ${mirror} ${suite} main\n`);
  writeFileSync(join(dir, 'status'), '');
  return [
    `Dir::Etc::SourceList=${join(dir, 'sources.list')}`,
    'Dir::Etc::SourceParts=/nonexistent',
    'Dir::Etc::Preferences=/nonexistent',
    'Dir::Etc::PreferencesParts=/nonexistent',
    `Dir::State::Lists=${join(dir, 'lists')}`,
    `Dir::State::status=${join(dir, 'status')}`,
    `Dir::Cache=${dir}`,
    `Dir::Cache::Archives=${join(dir, 'archives')}`,
    `APT::Architecture=${arch}`,
    `APT::Architectures=${arch}`,
    'APT::Sandbox::User=root',
    'Debug::NoLocking=1',
  ].flatMap((o) => ['-o', o]);
}

/** The kernel unpacked under `root`; `index` writes its modules.dep (installing does that). */
function readyKernel(root, { index = false } = {}) {
  const boot = join(root, 'boot');
  const image = existsSync(boot) ? readdirSync(boot).find((f) => f.startsWith('vmlinuz-')) : undefined;
  if (!image) return undefined;
  const version = image.slice('vmlinuz-'.length);
  const base = ['lib/modules', 'usr/lib/modules'].find((d) => existsSync(join(root, d, version)));
  if (!base) return undefined;
  const modules = join(root, base, version);
  if (index) run('depmod', ['-b', base.startsWith('usr/') ? join(root, 'usr') : root, version]);
  return existsSync(join(modules, 'modules.dep')) ? { path: join(boot, image), version, modules } : undefined;
}

/**
 * Debian's kernel for `release` (a key of DEBIAN_KERNELS) and `arch` (a Debian architecture),
 * fetched once into the cache: `{ path, version, modules }`, `modules` being its
 * /lib/modules/VERSION directory. Throws with apt's own message when the mirror cannot serve it.
 */
export function debianKernel(release, arch = 'amd64') {
  const suite = DEBIAN_KERNELS[release];
  if (!suite) throw new Error(`no Debian kernel ${release} is known; choose one of ${Object.keys(DEBIAN_KERNELS).join(', ')}`);
  const cache = kernelCacheDir();
  const root = join(cache, `${suite}-${arch}`);
  const cached = readyKernel(root);
  if (cached) return cached;

  const mirror = debianMirror();
  if (!mirror) throw new Error('no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d to fetch a kernel from');
  const apt = privateApt(join(cache, `apt-${suite}-${arch}`), mirror, suite, arch);
  run('apt-get', [...apt, '-q', 'update']);
  // The flavour's meta-package names the suite's current kernel package.
  const meta = `linux-image-${arch}`;
  const depends = run('apt-cache', [...apt, 'depends', meta]);
  const image = /Depends:\s*(linux-image-\d\S*)/.exec(depends)?.[1];
  if (!image) throw new Error(`${meta} in ${suite} names no kernel package:\n${depends}`);
  const staging = `${root}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  run('apt-get', [...apt, '-q', 'download', image], { cwd: staging });
  const deb = readdirSync(staging).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${image} left no package in ${staging}`);
  run('dpkg-deb', ['-x', join(staging, deb), join(staging, 'root')]);
  rmSync(join(staging, deb));
  if (!readyKernel(join(staging, 'root'), { index: true }))
    throw new Error(`${image} from ${suite} holds no /boot/vmlinuz-* with its modules`);
  rmSync(root, { recursive: true, force: true });
  renameSync(join(staging, 'root'), root);
  rmSync(staging, { recursive: true, force: true });
  rmSync(join(cache, `apt-${suite}-${arch}`), { recursive: true, force: true });
  return readyKernel(root);
}
