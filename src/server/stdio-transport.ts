/*
 * stdio framing
 * =============
 * MCP over stdio is one JSON-RPC message per line. The SDK's StdioServerTransport keeps a
 * whole line in memory, and when one passes its buffer limit it reports an error and closes:
 * the server then never reads stdin again and the client's write blocks for good. This
 * transport frames the same lines but holds at most `maxMessageBytes` of one: a longer line
 * is read through without being kept, answered with a JSON-RPC error (under its id, read on
 * the way by a small scanner of the top-level object, or null when it has none) and the
 * next line is served as usual. The limit is the HTTP request-body limit (requestBodyLimit).
 *
 * A line that is not JSON is answered with a parse error (id null); a JSON value that is not
 * a JSON-RPC message is reported to onerror and answered when it carries an id.
 *
 * Opened `held`, the transport reads only an opening `initialize` and leaves everything after
 * it unread, in order, until release(): the CLI answers the handshake before it has built the
 * app (its configuration, declarations and engines), and the requests that need the app wait
 * for it here, with the limit the configuration sets.
 */
import type { Readable, Writable } from 'node:stream';
import { deserializeMessage, serializeMessage, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';
import { ERROR_CODES } from '../errors.js';

const NEWLINE = 0x0a;
/** Longest opening line read while held: an `initialize` is far smaller; anything longer waits for release(). */
export const OPENING_LINE_BYTES = 64 * 1024;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

type Id = string | number | null;

/**
 * Reads a JSON text's top-level object byte by byte without keeping it, noting its "id"
 * (when a string or number of at most 256 bytes) and whether it has a "method".
 */
export class TopLevelScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Within the top-level object: waiting for a key, its colon, or reading its value. */
  private phase: 'key' | 'colon' | 'value' = 'key';
  private keyBytes: number[] | undefined;
  private key = '';
  private idBytes: number[] | undefined;
  private idTooLong = false;
  id: string | number | undefined;
  hasMethod = false;

  feed(bytes: Uint8Array, start = 0, end = bytes.length): void {
    for (let i = start; i < end; i++) {
      const b = bytes[i]!;
      if (this.idBytes && this.depth >= 1) {
        if (this.idBytes.length < 256) this.idBytes.push(b);
        else this.idTooLong = true;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) {
          this.inString = false;
          if (this.keyBytes) {
            this.key = Buffer.from(this.keyBytes).toString('utf8');
            this.keyBytes = undefined;
            this.phase = 'colon';
          }
          continue;
        }
        if (this.keyBytes && this.keyBytes.length < 16) this.keyBytes.push(b);
        continue;
      }
      if (b === QUOTE) {
        this.inString = true;
        if (this.depth === 1 && this.phase === 'key') this.keyBytes = [];
      } else if (b === 0x7b /* { */ || b === 0x5b /* [ */) {
        this.depth++;
        if (this.depth === 1) this.phase = 'key';
      } else if (b === 0x7d /* } */ || b === 0x5d /* ] */) {
        if (this.depth === 1) this.endValue();
        this.depth--;
      } else if (this.depth === 1) {
        if (b === 0x3a /* : */ && this.phase === 'colon') {
          this.phase = 'value';
          if (this.key === 'method') this.hasMethod = true;
          if (this.key === 'id') this.idBytes = [];
        } else if (b === 0x2c /* , */) {
          this.endValue();
          this.phase = 'key';
        }
      }
    }
  }

  private endValue(): void {
    if (!this.idBytes) return;
    // The closing byte (, or }) was captured too.
    const raw = Buffer.from(this.idBytes.slice(0, -1)).toString('utf8').trim();
    this.idBytes = undefined;
    if (this.idTooLong) {
      this.idTooLong = false;
      return;
    }
    try {
      const value: unknown = JSON.parse(raw);
      if (typeof value === 'string' || typeof value === 'number') this.id = value;
    } catch {
      // not a usable id
    }
  }
}

export interface LineStdioTransportOptions {
  /** Longest message kept, in bytes (without its newline). */
  maxMessageBytes: number;
  /** Names the setting that raises the limit, for the error message. */
  limitSetting?: string;
  /** Read only an opening `initialize` until release() (see the module comment). */
  held?: boolean;
  /**
   * While held, called once as soon as what is behind the transport is needed: when the
   * opening `initialize` has been answered, or a message has to wait.
   */
  onNeeded?: () => void;
}

/** The id of a line that is an `initialize` request, else undefined. */
function openingInitializeId(line: Buffer): string | number | undefined {
  try {
    const value = JSON.parse(line.toString('utf8')) as { method?: unknown; id?: unknown } | null;
    if (value?.method !== 'initialize') return undefined;
    return typeof value.id === 'string' || typeof value.id === 'number' ? value.id : undefined;
  } catch {
    return undefined;
  }
}

export class LineStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Set while the rest of an oversized line is read through. */
  private oversized: { scanner: TopLevelScanner; bytes: number } | undefined;
  private started = false;
  private closed = false;
  /** While held: the bytes not read yet, and whether the opening line has been dealt with. */
  private held: { waiting: Buffer[]; opened: boolean; openingId?: string | number; ended: boolean; onNeeded?: () => void } | undefined;

  constructor(
    private options: LineStdioTransportOptions,
    private readonly stdin: Readable,
    /** The protocol's channel: the CLI passes process.stdout, and nothing else writes there. */
    private readonly stdout: Writable,
  ) {
    if (options.held) this.held = { waiting: [], opened: false, ended: false, onNeeded: options.onNeeded };
  }

  /** Reads what waited, in order, and everything after it, with these limits from now on. */
  release(limits?: Pick<LineStdioTransportOptions, 'maxMessageBytes' | 'limitSetting'>): void {
    if (limits) this.options = { ...this.options, ...limits };
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    for (const chunk of held.waiting) this.onData(chunk);
    if (!this.closed) this.stdin.resume();
    if (held.ended) this.onStdinClose();
  }

  /** Calls onNeeded, once. */
  private needed(): void {
    const held = this.held;
    const onNeeded = held?.onNeeded;
    if (held) held.onNeeded = undefined;
    onNeeded?.();
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('LineStdioTransport already started');
    this.started = true;
    if (this.stdin.readableEnded || this.stdin.destroyed) setImmediate(this.onStdinClose);
    this.stdin.on('data', this.onData);
    this.stdin.on('error', this.onStdinError);
    this.stdin.on('end', this.onStdinClose);
    this.stdin.on('close', this.onStdinClose);
    this.stdout.on('error', this.onStdoutError);
  }

  private readonly onData = (chunk: Buffer): void => {
    try {
      if (this.held) this.takeHeld(chunk);
      else this.take(chunk);
    } catch (error) {
      this.onerror?.(error as Error);
    }
  };

  /**
   * While held: the opening line is delivered when it is an `initialize` request; it and
   * everything after it wait otherwise (stdin paused, so a client that keeps writing is held
   * back by the pipe rather than by this process's memory).
   */
  private takeHeld(chunk: Buffer): void {
    const held = this.held!;
    if (held.opened) {
      this.wait(chunk);
      return;
    }
    // The opening line is at most OPENING_LINE_BYTES, so gathering it whole costs little.
    const bytes = this.pending.length > 0 ? Buffer.concat([...this.pending, chunk]) : chunk;
    this.pending = [];
    this.pendingBytes = 0;
    const newline = bytes.indexOf(NEWLINE);
    if (newline === -1) {
      if (bytes.length > OPENING_LINE_BYTES) this.wait(bytes);
      else {
        this.pending = [bytes];
        this.pendingBytes = bytes.length;
      }
      return;
    }
    const line = bytes.subarray(0, newline);
    const rest = bytes.subarray(newline + 1);
    if (line.toString('utf8').trim() === '') {
      if (rest.length > 0) this.takeHeld(rest);
      return;
    }
    const id = openingInitializeId(line);
    if (id === undefined) {
      this.wait(bytes);
      return;
    }
    held.opened = true;
    held.openingId = id;
    this.take(bytes.subarray(0, newline + 1));
    if (rest.length > 0) this.wait(rest);
  }

  private wait(bytes: Buffer): void {
    const held = this.held!;
    held.opened = true;
    held.waiting.push(bytes);
    this.stdin.pause();
    this.needed();
  }

  private take(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length && !this.closed) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.oversized) {
        this.oversized.scanner.feed(chunk, start, end);
        this.oversized.bytes += end - start;
      } else if (this.pendingBytes + (end - start) > this.options.maxMessageBytes) {
        // Over the limit: what was kept goes through the scanner and is let go.
        const scanner = new TopLevelScanner();
        for (const piece of this.pending) scanner.feed(piece);
        scanner.feed(chunk, start, end);
        this.oversized = { scanner, bytes: this.pendingBytes + (end - start) };
        this.pending = [];
        this.pendingBytes = 0;
      } else if (end > start) {
        this.pending.push(chunk.subarray(start, end));
        this.pendingBytes += end - start;
      }
      if (newline === -1) return;
      start = newline + 1;
      if (this.oversized) this.refuseOversized();
      else this.deliverLine();
    }
  }

  private deliverLine(): void {
    const line = Buffer.concat(this.pending, this.pendingBytes).toString('utf8').replace(/\r$/, '');
    this.pending = [];
    this.pendingBytes = 0;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.onerror?.(new Error('stdio: a line that is not JSON was answered with a parse error'));
      this.answerError(null, -32700, 'Parse error: each line must be one JSON-RPC message');
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch (error) {
      this.onerror?.(error as Error);
      const id = (value as { id?: unknown } | null)?.id;
      const hasMethod = typeof (value as { method?: unknown } | null)?.method === 'string';
      if (typeof id === 'string' || typeof id === 'number') this.answerError(id, -32600, 'Invalid Request: not a JSON-RPC 2.0 message');
      else if (!hasMethod) this.answerError(null, -32600, 'Invalid Request: not a JSON-RPC 2.0 message');
      return;
    }
    this.onmessage?.(message);
  }

  private refuseOversized(): void {
    const { scanner, bytes } = this.oversized!;
    this.oversized = undefined;
    const limit = this.options.maxMessageBytes;
    this.onerror?.(new Error(`stdio: a message of ${bytes} bytes is over the ${limit}-byte limit; it was answered with an error and skipped`));
    // A notification (a method and no id) is never answered.
    if (scanner.hasMethod && scanner.id === undefined) return;
    const setting = this.options.limitSetting ? ` (${this.options.limitSetting} sets the limit)` : '';
    this.answerError(scanner.id ?? null, ERROR_CODES.TOO_LARGE.jsonRpc, `the message is ${bytes} bytes, larger than the ${limit} bytes this server takes${setting}; send less, e.g. split the documents or the content over several calls`);
  }

  private answerError(id: Id, code: number, message: string): void {
    this.write(`${JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } })}\n`).catch((error: unknown) => this.onerror?.(error as Error));
  }

  private readonly onStdinError = (error: Error): void => {
    this.onerror?.(error);
  };

  private readonly onStdoutError = (error: Error): void => {
    if (this.closed) return;
    this.onerror?.(error);
    this.close().catch(() => undefined);
  };

  private readonly onStdinClose = (): void => {
    // What waits is still read (a client may write its requests and close stdin at once).
    if (this.held) {
      this.held.ended = true;
      return;
    }
    this.close().catch(() => undefined);
  };

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('error', this.onStdinError);
    this.stdin.off('end', this.onStdinClose);
    this.stdin.off('close', this.onStdinClose);
    // Late write failures after close are not reported.
    this.stdout.off('error', this.onStdoutError);
    this.stdout.on('error', () => undefined);
    if (this.stdin.listenerCount('data') === 0) this.stdin.pause();
    this.pending = [];
    this.pendingBytes = 0;
    this.oversized = undefined;
    this.onclose?.();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the stdio transport is closed'));
    const written = this.write(serializeMessage(message));
    if (this.held?.openingId !== undefined && 'id' in message && message.id === this.held.openingId && !('method' in message)) {
      void written.then(() => this.needed(), () => undefined);
    }
    return written;
  }

  private write(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => {
        this.stdout.off('drain', onDrain);
        reject(error);
      };
      const onDrain = () => {
        this.stdout.off('error', onError);
        resolve();
      };
      this.stdout.once('error', onError);
      if (this.stdout.write(text)) {
        this.stdout.off('error', onError);
        resolve();
      } else this.stdout.once('drain', onDrain);
    });
  }
}
