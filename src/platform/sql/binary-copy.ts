/*
 * PostgreSQL binary COPY encoding
 * ===============================
 * Rows → the `COPY ... FROM ... WITH (format binary)` wire format: a signature header,
 * then per row a field count and each field as length + bytes in the type's binary
 * ("recv") representation, then a -1 trailer. PGlite takes this as a blob and loads it
 * an order of magnitude faster than text parameters, because nothing (768-d vectors above
 * all) has to be parsed from text.
 */

export type CopyColumnType = 'text' | 'int4' | 'jsonb' | 'text[]' | 'vector';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const TEXT_OID = 25;

/**
 * One growing buffer written in place: a Buffer per field plus a concat cost several times
 * more than PGlite's load of the rows (a posting is a row, and a batch has many thousands).
 */
class CopyWriter {
  buffer = Buffer.allocUnsafe(64 * 1024);
  /** Floats through DataView: Buffer.writeFloatBE's per-call overhead adds up at 768 calls per vector. */
  view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
  length = 0;

  reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }

  int16(value: number): void {
    this.reserve(2);
    this.length = this.buffer.writeInt16BE(value, this.length);
  }

  int32(value: number): void {
    this.reserve(4);
    this.length = this.buffer.writeInt32BE(value, this.length);
  }

  /** A string's UTF-8 bytes after their int32 length (written last, once known). */
  text(value: string, prefix?: number): void {
    const extra = prefix === undefined ? 0 : 1;
    this.reserve(4 + extra + value.length * 3);
    const at = this.length;
    let offset = at + 4;
    if (prefix !== undefined) offset = this.buffer.writeUInt8(prefix, offset);
    const written = this.buffer.write(value, offset, 'utf8');
    this.buffer.writeInt32BE(written + extra, at);
    this.length = offset + written;
  }

  value(type: CopyColumnType, value: unknown): void {
    // SQL NULL: a length of -1 and no bytes (a chunk whose vector is computed later).
    if (value === null) return this.int32(-1);
    switch (type) {
      case 'text':
        return this.text(String(value));
      case 'int4':
        this.int32(4);
        return this.int32(value as number);
      case 'jsonb':
        // jsonb's binary form is a version byte (1) and the JSON text
        return this.text(typeof value === 'string' ? value : JSON.stringify(value), 1);
      case 'text[]': {
        const items = value as string[];
        const at = this.length;
        this.int32(0); // the field's length, filled in below
        this.int32(items.length ? 1 : 0); // dimensions
        this.int32(0); // no nulls
        this.int32(TEXT_OID);
        if (items.length) {
          this.int32(items.length);
          this.int32(1); // lower bound
          for (const item of items) this.text(item);
        }
        this.buffer.writeInt32BE(this.length - at - 4, at);
        return;
      }
      case 'vector': {
        const vector = value as Float32Array;
        this.reserve(8 + 4 * vector.length);
        let offset = this.buffer.writeInt32BE(4 + 4 * vector.length, this.length);
        offset = this.buffer.writeInt16BE(vector.length, offset);
        offset = this.buffer.writeInt16BE(0, offset);
        for (let i = 0; i < vector.length; i++, offset += 4) this.view.setFloat32(offset, vector[i]!);
        this.length = offset;
        return;
      }
    }
  }
}

export function encodeCopyBinary(types: readonly CopyColumnType[], rows: readonly (readonly unknown[])[]): Uint8Array {
  const out = new CopyWriter();
  out.reserve(SIGNATURE.length + 8);
  out.length = SIGNATURE.copy(out.buffer, 0);
  out.int32(0); // flags
  out.int32(0); // header extension length
  for (const row of rows) {
    out.int16(types.length);
    for (let i = 0; i < types.length; i++) out.value(types[i]!, row[i]);
  }
  out.int16(-1);
  return out.buffer.subarray(0, out.length);
}
