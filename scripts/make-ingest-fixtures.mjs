#!/usr/bin/env node
/*
 * Writes the binary fixtures of the file-ingestion tests: a three-page PDF, an encrypted PDF
 * and a DOCX, all small and made from scratch (no office suite needed), so they can be
 * regenerated and reviewed: `node scripts/make-ingest-fixtures.mjs`.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync, strToU8 } from 'fflate';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures');

/** A PDF with one text page per entry; `extraTrailer` adds entries to the trailer (e.g. /Encrypt). */
function pdf(pages, { title, extraObjects = [], extraTrailer = '' } = {}) {
  const objects = [];
  const pageIds = pages.map((_, i) => 4 + i * 2);
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages.length} >>`;
  objects[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  pages.forEach((lines, i) => {
    const escape = (s) => s.replace(/[\\()]/g, (c) => `\\${c}`);
    const body = `BT /F1 12 Tf 72 720 Td 16 TL ${lines.map((l) => `(${escape(l)}) Tj T*`).join(' ')} ET`;
    objects[pageIds[i]] = `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${pageIds[i] + 1} 0 R >>`;
    objects[pageIds[i] + 1] = `<< /Length ${body.length} >>\nstream\n${body}\nendstream`;
  });
  let next = objects.length;
  let info = '';
  if (title) {
    objects[next] = `<< /Title (${title}) /Producer (mcp-level3 fixtures) >>`;
    info = ` /Info ${next} 0 R`;
    next++;
  }
  for (const extra of extraObjects) objects[next++] = extra;
  let out = '%PDF-1.4\n';
  const offsets = [];
  for (let id = 1; id < objects.length; id++) {
    offsets[id] = out.length;
    out += `${id} 0 obj\n${objects[id]}\nendobj\n`;
  }
  const xref = out.length;
  out += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id++) out += `${String(offsets[id]).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length} /Root 1 0 R${info}${extraTrailer} >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

function docx(paragraphs) {
  const xml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const body = paragraphs
    .map(([style, text]) => `<w:p>${style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : ''}<w:r><w:t xml:space="preserve">${xml(text)}</w:t></w:r></w:p>`)
    .join('');
  const files = {
    '[Content_Types].xml': `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>`,
    '_rels/.rels': `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`,
    'word/_rels/document.xml.rels': `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`,
    'word/styles.xml': `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>`,
    'word/document.xml': `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`,
  };
  // A fixed date keeps the archive byte-identical between runs.
  return Buffer.from(zipSync(Object.fromEntries(Object.entries(files).map(([name, text]) => [name, [strToU8(text), { mtime: new Date('2026-01-01T00:00:00Z') }]]))));
}

/** Lines enough to make a page longer than a chunk (1,000 characters), so citations can tell pages apart. */
function filler(topic) {
  return Array.from({ length: 16 }, (_, i) => `${topic} note ${i + 1}: routine figures were reviewed and filed without change.`);
}

function write(path, content) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

write(
  join(root, 'ingest', 'reports', 'annual-report.pdf'),
  pdf(
    [
      ['Annual Report 2025', 'Revenue grew by twelve percent across the northern region.', ...filler('Sales')],
      ['Operations', 'The Rotterdam warehouse switched to solar power in March.', ...filler('Operations')],
      ['Outlook', ...filler('Planning').slice(0, 8), 'The board approved a lighthouse restoration fund for next year.', ...filler('Planning').slice(8)],
    ],
    { title: 'Annual Report 2025' },
  ),
);
write(
  join(root, 'ingest', 'reports', 'memo.docx'),
  docx([
    ['Heading1', 'Travel Policy Memo'],
    ['', 'Employees travelling by night train may claim a sleeper cabin.'],
    ['', 'Receipts must be submitted within thirty days.'],
  ]),
);
// Standard security handler, revision 2, with a user password that is not empty: readers ask for it.
write(
  join(root, 'ingest-bad', 'encrypted.pdf'),
  pdf([['Secret page']], {
    extraObjects: [`<< /Filter /Standard /V 1 /R 2 /O <${'28bf4e5e4e758a41'.repeat(4)}> /U <${'9a1c2b3d4e5f6a7b'.repeat(4)}> /P -44 >>`],
    extraTrailer: ` /Encrypt 6 0 R /ID [<${'0123456789abcdef'.repeat(2)}> <${'0123456789abcdef'.repeat(2)}>]`,
  }),
);
write(join(root, 'ingest-bad', 'corrupt.pdf'), Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R\nthis file was cut short', 'latin1'));
// Binary content: a PNG signature and header, NUL bytes included.
write(join(root, 'ingest', 'assets', 'logo.png'), Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex'));
