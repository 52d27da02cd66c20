"""Run a command on a pseudo-terminal of COLSxROWS, as a user's terminal would: print what it
writes; when a line of its output equals the 'resize-on' text, resize the terminal to
NEW_COLSxNEW_ROWS (the kernel then sends SIGWINCH). Exits with the command's exit code.
Usage: pty-run.py COLS ROWS RESIZE_ON NEW_COLS NEW_ROWS -- COMMAND..."""
import fcntl, os, pty, struct, sys, termios

cols, rows, resize_on, new_cols, new_rows = sys.argv[1:6]
command = sys.argv[7:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', int(rows), int(cols), 0, 0))
    os.execvp(command[0], command)
buffer = b''
resized = False
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    buffer += data
    if not resized and resize_on.encode() in buffer.replace(b'\r', b'').split(b'\n'):
        resized = True
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', int(new_rows), int(new_cols), 0, 0))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
