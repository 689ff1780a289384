import { readSync, writeSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { ReadStream } from 'node:tty';
import { errnoName } from './errors.js';
import type { NativeAddon } from './native.js';

/** How soon a write the pty had no room for is tried again. */
const WRITE_RETRY_MS = 10;

/**
 * The master side of a guest's own pty: what the guest writes comes out here, what is
 * written here is what the guest reads, as typed on its terminal. Ends once every process
 * holding the slave has closed it (the kernel then answers reads with EIO, which here is the
 * end of the stream, not an error). The fd is closed when the stream is destroyed.
 *
 * libuv ends a stream when poll reports a hangup after a read shorter than its buffer, on
 * the grounds that a socket or pipe peer has nothing more to send. A pty master is read
 * through the line discipline, a few KiB at a time, so what the guest wrote just before it
 * exited can still be queued at that hangup: the end from libuv is where the rest is read,
 * until the kernel answers EIO (all of it read).
 *
 * The master is non-blocking (the addon opens it so): writes go straight to the fd, and what
 * the pty has no room for (a guest that does not read its input) waits in the stream and is
 * tried again, the event loop never held. libuv would spin on a tty it treats as blocking.
 */
export class GuestTerminal extends Duplex {
  #tty: ReadStream;
  #native: NativeAddon;
  #fd: number;
  /** A write waiting for room in the pty, and its callback. */
  #retry: { timer: NodeJS.Timeout; callback: (error?: Error | null) => void } | undefined;

  /** @internal Created by the Guest. */
  constructor(native: NativeAddon, fd: number) {
    super({ allowHalfOpen: false });
    this.#native = native;
    this.#fd = fd;
    this.#tty = new ReadStream(fd);
    this.#tty.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) this.#tty.pause();
    });
    this.#tty.on('end', () => this.#drain());
    this.#tty.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EIO') this.push(null);
      else this.destroy(error);
    });
    this.#tty.on('close', () => this.push(null));
  }

  /**
   * Reads what the kernel still holds after libuv's end, while the fd is open (the tty
   * stream closes it after its 'end' listeners). The fd is non-blocking: EAGAIN means a slave
   * was opened again, EIO that every slave is closed and nothing is left.
   */
  #drain(): void {
    const buffer = Buffer.allocUnsafe(65536);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.#fd, buffer);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EIO' || code === 'EAGAIN') break;
        this.destroy(error as Error);
        return;
      }
      if (n === 0) break;
      this.push(Buffer.from(buffer.subarray(0, n)));
    }
    this.push(null);
  }

  /** Sets the guest's window size; the kernel sends its foreground process group SIGWINCH. */
  resize(cols: number, rows: number): void {
    for (const [name, n] of [
      ['cols', cols],
      ['rows', rows],
    ] as const) {
      if (!Number.isInteger(n) || n < 1 || n > 65535)
        throw new RangeError(`The "${name}" argument must be an integer from 1 to 65535. Received ${n}`);
    }
    if (this.destroyed) throw Object.assign(new Error('the terminal is closed'), { code: 'ERR_STREAM_DESTROYED' });
    const err = this.#native.setWindowSize(this.#fd, cols, rows);
    if (err !== 0)
      throw Object.assign(new Error(`TIOCSWINSZ failed: ${errnoName(-err)}`), { code: errnoName(-err), errno: err, syscall: 'ioctl' });
  }

  /** Node stream plumbing (Duplex). */
  override _read(): void {
    this.#tty.resume();
  }

  /** Node stream plumbing (Duplex). */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writeFrom(chunk, 0, callback);
  }

  /**
   * Writes what the pty takes now. EAGAIN: no room, again in WRITE_RETRY_MS. EIO: every
   * slave is closed, and what the guest did not read is dropped. Nothing is written once the
   * tty stream is destroyed: its fd is closed then, and the number may be another file's.
   */
  #writeFrom(chunk: Buffer, offset: number, callback: (error?: Error | null) => void): void {
    this.#retry = undefined;
    while (offset < chunk.length) {
      if (this.#tty.destroyed) return callback();
      try {
        offset += writeSync(this.#fd, chunk, offset);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN') return callback(code === 'EIO' ? null : (error as Error));
        const timer = setTimeout(() => this.#writeFrom(chunk, offset, callback), WRITE_RETRY_MS);
        this.#retry = { timer, callback };
        return;
      }
    }
    callback();
  }

  /** Node stream plumbing (Duplex). */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#retry) {
      clearTimeout(this.#retry.timer);
      this.#retry.callback();
      this.#retry = undefined;
    }
    this.#tty.destroy();
    if (this.#tty.closed) callback(error);
    else this.#tty.once('close', () => callback(error));
  }
}
