/*
 * PostgreSQL binary COPY encoding
 * ===============================
 * Rows → the `COPY ... FROM ... WITH (format binary)` wire format: a signature header,
 * then per row a field count and each field as length + bytes in the type's binary
 * ("recv") representation, then a -1 trailer. PGlite takes this as a blob and loads it
 * about 15 times faster than text parameters (768-d vectors: 170 ms against 2.5 s for
 * 2,850 rows, measured), because nothing has to be parsed from text.
 */

export type CopyColumnType = 'text' | 'int4' | 'jsonb' | 'text[]' | 'vector';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const TEXT_OID = 25;

function field(bytes: Buffer): Buffer[] {
  const length = Buffer.alloc(4);
  length.writeInt32BE(bytes.length, 0);
  return [length, bytes];
}

function encodeValue(type: CopyColumnType, value: unknown): Buffer {
  switch (type) {
    case 'text':
      return Buffer.from(String(value), 'utf8');
    case 'int4': {
      const out = Buffer.alloc(4);
      out.writeInt32BE(value as number, 0);
      return out;
    }
    case 'jsonb':
      return Buffer.concat([Buffer.from([1]), Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8')]);
    case 'text[]': {
      const items = (value as string[]).map((item) => Buffer.from(item, 'utf8'));
      const header = Buffer.alloc(20);
      header.writeInt32BE(items.length ? 1 : 0, 0); // dimensions
      header.writeInt32BE(0, 4); // no nulls
      header.writeInt32BE(TEXT_OID, 8);
      header.writeInt32BE(items.length, 12);
      header.writeInt32BE(1, 16); // lower bound
      return Buffer.concat(items.length ? [header, ...items.flatMap(field)] : [header.subarray(0, 12)]);
    }
    case 'vector': {
      const vector = value as Float32Array;
      const out = Buffer.alloc(4 + 4 * vector.length);
      out.writeInt16BE(vector.length, 0);
      out.writeInt16BE(0, 2);
      for (let i = 0; i < vector.length; i++) out.writeFloatBE(vector[i]!, 4 + 4 * i);
      return out;
    }
  }
}

export function encodeCopyBinary(types: readonly CopyColumnType[], rows: readonly (readonly unknown[])[]): Uint8Array {
  const parts: Buffer[] = [SIGNATURE, Buffer.alloc(8)];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(types.length, 0);
    parts.push(count);
    types.forEach((type, i) => parts.push(...field(encodeValue(type, row[i]))));
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1, 0);
  parts.push(trailer);
  return Buffer.concat(parts);
}
