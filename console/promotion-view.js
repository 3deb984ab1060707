// What the approvals inbox (app.js) and the promotion review MCP App (apps/promotion-review.js)
// both show of a promotion request, drawn the same way: its gates, and the requested version
// against what the environment's alias points at now. Also the element builder both draw with.

export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child);
  return node;
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

/** `attributes` go on the table (the MCP App names it; the inbox has one per request). */
export function gatesTable(gates, attributes = {}) {
  const rows = gates.map((g) =>
    h('tr', { 'data-gate': g.gate }, h('td', { text: g.gate }), h('td', { class: g.passed ? 'passed' : 'failed', text: g.passed ? 'passed' : 'failed' }), h('td', { text: g.messages?.length ? g.messages.join(' ') : '—' })),
  );
  return h(
    'table',
    attributes,
    h('caption', { text: 'Gates' }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Gate' }), h('th', { scope: 'col', text: 'Result' }), h('th', { scope: 'col', text: 'Messages' }))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 3, text: 'No gate applies.' }))),
  );
}

/**
 * The requested version against the environment's alias, field by field, and a note when
 * either cannot be read. `read(args)` runs registry_get; `isNotFound(error)` says the alias
 * is unset (the first promotion there); `describe(error)` says why a read failed.
 */
export async function aliasComparison(request, { read, isNotFound, describe }, attributes = {}) {
  let candidate;
  let current;
  let note = '';
  try {
    candidate = await read({ name: request.name, version: request.version, includeContent: false });
  } catch (error) {
    note = `The requested version could not be read: ${describe(error)}`;
  }
  try {
    current = await read({ name: request.name, alias: request.environment, includeContent: false });
  } catch (error) {
    note ||= isNotFound(error) ? `Nothing is promoted to ${request.environment} yet: this would be its first version.` : `The ${request.environment} alias could not be read: ${describe(error)}`;
  }
  const rows = [
    ['Version', (a) => a.version],
    ['Digest', (a) => a.digest],
    ['Size (bytes)', (a) => String(a.size)],
    ['Media type', (a) => a.mediaType],
    ['Labels', (a) => Object.entries(a.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')],
    ['Published', (a) => `${when(a.createdAt)} by ${a.createdBy ?? ''}`],
  ].map(([label, pick]) => {
    const left = candidate ? pick(candidate) : '';
    const right = current ? pick(current) : '—';
    return h('tr', { class: current && left !== right ? 'differs' : undefined }, h('th', { scope: 'row', text: label }), h('td', { text: left }), h('td', { text: right }));
  });
  return [
    h(
      'table',
      { class: 'compare', ...attributes },
      h('caption', { text: `${request.name}: requested version against the ${request.environment} alias` }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Field' }), h('th', { scope: 'col', text: 'Requested' }), h('th', { scope: 'col', text: `Now in ${request.environment}` }))),
      h('tbody', {}, rows),
    ),
    note ? h('p', { class: 'notice', text: note }) : null,
  ];
}
