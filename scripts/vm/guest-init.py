#!/usr/bin/env python3
# PID 1 inside a throwaway VM booted by scripts/vm/boot.mjs: mounts what privileged tests
# need (a pure cgroup v2 hierarchy with the memory and pids controllers among them), runs one
# command as root in the checkout, reaps every orphan, prints the command's exit status on a
# marker line and powers the machine off.
import ctypes
import json
import os
import subprocess
import sys

MARKER = 'CAPSPAWN-VM-EXIT='


def mount(fstype, target, options=None):
    os.makedirs(target, exist_ok=True)
    args = ['mount', '-t', fstype] + (['-o', options] if options else []) + [fstype, target]
    subprocess.run(args, check=True)


def power_off(status):
    print(f'{MARKER}{status}', flush=True)
    os.sync()
    # reboot(2) with LINUX_REBOOT_CMD_POWER_OFF: qemu runs with -no-reboot and exits.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.reboot(0x4321FEDC)
    os._exit(status)


def writable_shadow_files():
    # Booted by a non-root user, the host's /etc/shadow is unreadable through 9p, so the overlay
    # cannot copy it up and useradd fails. This machine is thrown away: start both files empty.
    for path in ('/etc/shadow', '/etc/gshadow'):
        try:
            with open(path, 'rb'):
                pass
        except PermissionError:
            os.remove(path)
            with open(path, 'w'):
                pass
            os.chmod(path, 0o640)
        except FileNotFoundError:
            pass


def main():
    # The runner reports this as the kernel that ran (scripts/vm/boot.mjs, BOOTED_MARKER).
    print(f'capspawn-vm: booted Linux {os.uname().release}', flush=True)
    mount('proc', '/proc')
    mount('sysfs', '/sys')
    mount('devtmpfs', '/dev')
    mount('devpts', '/dev/pts')
    mount('tmpfs', '/dev/shm')
    # /tmp stays the overlay's (writable, thrown away): a tmpfs there would hide a checkout
    # that lives under the host's /tmp.
    mount('tmpfs', '/run', 'mode=755')
    # A pure cgroup v2 hierarchy, with the controllers the placement tests limit.
    mount('cgroup2', '/sys/fs/cgroup')
    with open('/sys/fs/cgroup/cgroup.subtree_control', 'w') as control:
        control.write('+memory +pids')
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
    writable_shadow_files()

    checkout = os.environ['CAPSPAWN_VM_CHECKOUT']
    os.chdir(checkout)
    env = {
        'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'HOME': '/root',
        'LANG': 'C.UTF-8',
        'CAPSPAWN_IN_VM': '1',
    }
    command = json.loads(bytes.fromhex(os.environ['CAPSPAWN_VM_COMMAND']).decode())
    job = subprocess.Popen(command, env=env)
    status = None
    # PID 1 inherits every orphan: reap them all until the command itself has ended.
    while status is None:
        pid, wait_status = os.wait()
        if pid == job.pid:
            status = os.waitstatus_to_exitcode(wait_status)
    power_off(status if status >= 0 else 128 - status)


try:
    main()
except Exception as error:  # a broken guest must still say so and power off
    print(f'capspawn-vm: the guest init failed: {error}', file=sys.stderr, flush=True)
    power_off(70)
