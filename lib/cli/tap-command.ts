import { parseArgs } from 'node:util';
import { createTap, deleteTap, readTap, type TapInfo, type TapOptions } from '../tap.js';
import { type FlagSpec, HELP_FLAG, JSON_FLAG } from './command-line.js';
import { renderHelp } from './help.js';
import { groupNames, namedId, userName } from './id-names.js';
import { UsageError } from './usage-error.js';

/** The flags of `tap add`, each the createTap option of the same meaning. */
const TAP_ADD_FLAGS: readonly (FlagSpec & { option: keyof TapOptions })[] = [
  { flag: 'user', option: 'user', valueName: 'USER', help: 'USER may attach without CAP_NET_ADMIN (name or uid)' },
  { flag: 'group', option: 'group', valueName: 'GROUP', help: "GROUP's members may attach without CAP_NET_ADMIN" },
  { flag: 'vnet-hdr', option: 'vnetHdr', help: 'IFF_VNET_HDR: virtio-net headers (QEMU vnet_hdr=on)' },
  { flag: 'multi-queue', option: 'multiQueue', help: 'IFF_MULTI_QUEUE: one queue per fd (QEMU queues=N)' },
  { flag: 'up', option: 'up', help: 'bring the link up' },
];

export const TAP_HELP = renderHelp({
  usage: [
    'capspawn tap add NAME [--user USER] [--group GROUP] [--vnet-hdr] [--multi-queue] [--up]',
    'capspawn tap del NAME',
    'capspawn tap show NAME [--json]',
  ],
  description:
    'Makes, removes and shows persistent TAP devices with the tun ioctls, as `ip tuntap` does: a ' +
    'device with --user or --group lets that user or group attach (QEMU -netdev tap,ifname=NAME) ' +
    'without any capability. add takes an existing device only when it has exactly the settings ' +
    'asked for. Addresses, bridges and routes stay with ip(8). Needs CAP_NET_ADMIN; works in the ' +
    'network namespace capspawn runs in (ip netns exec NS capspawn tap ...).',
  flags: [
    { title: 'Options of add', flags: TAP_ADD_FLAGS },
    { title: 'Options of show', flags: [JSON_FLAG] },
  ],
  examples: [
    'capspawn tap add cvd-mtap-01 --group cvdnetwork --vnet-hdr --up',
    'capspawn tap show cvd-mtap-01 --json',
    'capspawn tap del cvd-mtap-01',
  ],
  footer: 'Exit status:\n  0 on success; 125 when the device could not be made, removed or read.',
});

/** `cvd-mtap-01: tap, persistent, up, owner none, group cvdnetwork (993), vnet_hdr, tun_flags 0x5802` */
export async function describeTap(info: TapInfo): Promise<string> {
  const owner = info.owner === null ? 'none' : `${(await userName(info.owner)) ?? 'no passwd entry'} (${info.owner})`;
  const group = info.group === null ? 'none' : namedId(info.group, await groupNames([info.group]));
  const flags = [info.vnetHdr && 'vnet_hdr', info.multiQueue && 'multi_queue'].filter(Boolean).join(', ');
  return (
    `${info.name}: ${info.kind}, ${info.persistent ? 'persistent' : 'not persistent'}, ${info.up ? 'up' : 'down'}, ` +
    `owner ${owner}, group ${group}${flags ? `, ${flags}` : ''}, tun_flags 0x${info.flags.toString(16)}`
  );
}

function idFromFlag(spec: string): string | number {
  return /^\d+$/.test(spec) ? Number(spec) : spec;
}

function parseTapArgs(verb: string, argv: readonly string[], flags: readonly FlagSpec[]) {
  const options = Object.fromEntries(
    flags.map((f) => [f.flag, { type: f.valueName ? 'string' : 'boolean', ...(f.short && { short: f.short }) }] as const),
  );
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`capspawn tap ${verb}: ${(error as Error).message.split('\n')[0]} (see \`capspawn tap --help\`)`);
  }
}

/** `capspawn tap add|del|show NAME ...` */
export async function runTapCommand(argv: readonly string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h') {
    process.stdout.write(TAP_HELP);
    return 0;
  }
  const flags = verb === 'add' ? [...TAP_ADD_FLAGS, HELP_FLAG] : verb === 'show' ? [JSON_FLAG, HELP_FLAG] : [HELP_FLAG];
  if (!['add', 'del', 'show'].includes(verb))
    throw new UsageError(`capspawn tap: unknown command "${verb}": use add, del or show (see \`capspawn tap --help\`)`);
  const { values, positionals } = parseTapArgs(verb, rest, flags);
  if (values.help) {
    process.stdout.write(TAP_HELP);
    return 0;
  }
  const [name] = positionals;
  if (positionals.length !== 1 || name === undefined)
    throw new UsageError(`capspawn tap ${verb} takes one device name (got ${positionals.length}): capspawn tap ${verb} NAME`);
  if (verb === 'del') {
    await deleteTap(name);
    return 0;
  }
  if (verb === 'show') {
    const info = readTap(name);
    process.stdout.write(values.json ? `${JSON.stringify(info, null, 2)}\n` : `${await describeTap(info)}\n`);
    return 0;
  }
  const options: Record<string, unknown> = {};
  for (const spec of TAP_ADD_FLAGS) {
    const value = values[spec.flag];
    if (value !== undefined) options[spec.option] = typeof value === 'string' ? idFromFlag(value) : value;
  }
  process.stdout.write(`${await describeTap(await createTap(name, options))}\n`);
  return 0;
}
