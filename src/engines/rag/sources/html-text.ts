/*
 * rag/sources/html-text
 * =====================
 * An HTML page → its main text as markdown: the <main> (or <article>, else <body>) element,
 * without scripts, styles, navigation, headers, footers, asides, forms or comments; headings
 * become markdown headings, list items "- " lines and block elements paragraphs, so the
 * markdown splitter follows the page's structure. Not a full HTML parser: a regular-expression
 * pass that is right for ordinary pages and never executes anything.
 */
import { decodeEntities } from '../chunk.js';

const DROPPED = ['script', 'style', 'noscript', 'template', 'svg', 'nav', 'header', 'footer', 'aside', 'form', 'iframe', 'object', 'canvas', 'select', 'button'];
const BLOCK = /<\/?(?:p|div|section|article|main|table|thead|tbody|tr|blockquote|pre|dl|dt|dd|ul|ol|figure|figcaption|address|details|summary|hr)\b[^>]*>/gi;

function inner(html: string, tag: string): string | undefined {
  const open = new RegExp(`<${tag}\\b[^>]*>`, 'i').exec(html);
  if (!open) return undefined;
  const close = html.toLowerCase().lastIndexOf(`</${tag}>`);
  return close > open.index ? html.slice(open.index + open[0].length, close) : html.slice(open.index + open[0].length);
}

export function htmlTitle(html: string): string | undefined {
  const title = /<title\b[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1] ?? /<h1\b[^>]*>([\s\S]*?)<\/h1>/i.exec(html)?.[1];
  const text = title === undefined ? '' : decodeEntities(title.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
  return text || undefined;
}

export function htmlToMarkdown(html: string): string {
  let body = html.replace(/<!--[\s\S]*?-->/g, ' ');
  // Scripts and styles go before choosing the main element: their text may contain tag-like strings.
  body = body.replace(/<(script|style|noscript|template)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ');
  body = inner(body, 'main') ?? inner(body, 'article') ?? inner(body, 'body') ?? body;
  for (const tag of DROPPED) body = body.replace(new RegExp(`<${tag}\\b[^>]*>[\\s\\S]*?<\\/${tag}\\s*>`, 'gi'), ' ');
  body = body
    .replace(/<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1\s*>/gi, (_, level: string, text: string) => `\n\n${'#'.repeat(Number(level))} ${text.replace(/\s+/g, ' ').trim()}\n\n`)
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/?(?:td|th)\b[^>]*>/gi, ' ')
    .replace(BLOCK, '\n\n')
    .replace(/<[^>]+>/g, '');
  return decodeEntities(body)
    .split('\n')
    .map((line) => line.replace(/[ \t\f\v\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
