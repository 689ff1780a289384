# Runs a command as a person at a terminal would: on a new pty whose slave is the command's
# controlling terminal, inside a "caller" that afterwards reports what is left in its input
# (bytes a guest pushed with TIOCSTI would be there) and whether its terminal is back to its
# modes. Usage: on-terminal.py SCRIPT_JSON -- COMMAND...
# SCRIPT_JSON: {"rows", "cols", "steps": [["wait", text] | ["send", text] | ["resize", rows, cols]
# | ["kill-pid-after", text]]}; prints one JSON line: {"output", "status", "leftover", "restored"}.
import fcntl, json, os, pty, re, select, signal, struct, sys, termios

script = json.loads(sys.argv[1])
command = sys.argv[sys.argv.index('--') + 1:]

def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))

pid, master = pty.fork()
if pid == 0:
    # The caller: a session leader on the pty, like a login shell.
    before = termios.tcgetattr(0)
    child = os.fork()
    if child == 0:
        os.execvp(command[0], command)
    _, status = os.waitpid(child, 0)
    after = termios.tcgetattr(0)
    # What is waiting in this terminal's input now that the command is gone.
    mode = termios.tcgetattr(0)
    mode[3] &= ~(termios.ICANON | termios.ECHO)
    mode[6][termios.VMIN] = 0
    mode[6][termios.VTIME] = 0
    termios.tcsetattr(0, termios.TCSANOW, mode)
    leftover = b''
    while True:
        chunk = os.read(0, 1024)
        if not chunk:
            break
        leftover += chunk
    termios.tcsetattr(0, termios.TCSANOW, before)
    report = {'status': os.waitstatus_to_exitcode(status), 'leftover': leftover.decode('latin1'), 'restored': before == after}
    os.write(1, ('\n@@REPORT ' + json.dumps(report) + '\n').encode())
    os._exit(0)

set_size(master, script.get('rows', 24), script.get('cols', 80))
output = b''

def read_until(pattern, timeout=120):
    global output
    while not re.search(pattern.encode(), output):
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            raise SystemExit('timed out waiting for %r; output so far: %r' % (pattern, output))
        try:
            chunk = os.read(master, 4096)
        except OSError:
            chunk = b''
        if not chunk:
            raise SystemExit('terminal closed waiting for %r; output so far: %r' % (pattern, output))
        output += chunk

for step in script.get('steps', []):
    if step[0] == 'wait':
        read_until(step[1])
    elif step[0] == 'send':
        os.write(master, step[1].encode())
    elif step[0] == 'resize':
        set_size(master, step[1], step[2])
    elif step[0] == 'kill-pid':
        found = re.search((step[1] + r'(\d+)').encode(), output)
        os.kill(int(found.group(1)), signal.SIGKILL)
read_until(r'@@REPORT \{.*\}\r?\n')
text = output.decode('latin1')
report = json.loads(re.search(r'@@REPORT (\{.*\})', text).group(1))
report['output'] = text[: text.index('\n@@REPORT') if '\n@@REPORT' in text else text.index('@@REPORT')]
print(json.dumps(report))
