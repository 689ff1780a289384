import { Duplex } from 'node:stream';
import { ReadStream } from 'node:tty';
import { errnoName } from './errors.js';
import type { NativeAddon } from './native.js';

/**
 * The master side of a guest's own pty: what the guest writes comes out here, what is
 * written here is what the guest reads, as typed on its terminal. Ends once every process
 * holding the slave has closed it (the kernel then answers reads with EIO, which here is the
 * end of the stream, not an error). The fd is closed when the stream is destroyed.
 */
export class GuestTerminal extends Duplex {
  #tty: ReadStream;
  #native: NativeAddon;
  #fd: number;

  /** @internal Created by the Guest. */
  constructor(native: NativeAddon, fd: number) {
    super({ allowHalfOpen: false });
    this.#native = native;
    this.#fd = fd;
    this.#tty = new ReadStream(fd);
    this.#tty.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) this.#tty.pause();
    });
    this.#tty.on('end', () => this.push(null));
    this.#tty.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EIO') this.push(null);
      else this.destroy(error);
    });
    this.#tty.on('close', () => this.push(null));
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
  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#tty.destroyed) return callback();
    this.#tty.write(chunk, encoding, (error) => callback(error && (error as NodeJS.ErrnoException).code === 'EIO' ? null : error));
  }

  /** Node stream plumbing (Duplex). */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#tty.destroy();
    if (this.#tty.closed) callback(error);
    else this.#tty.once('close', () => callback(error));
  }
}
