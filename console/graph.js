// A run drawn as an SVG graph: nodes in columns by depth (longest path from a root), edges
// from each dependency to its dependant, each node labelled with its id and state.

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 170;
const NODE_H = 46;
const GAP_X = 60;
const GAP_Y = 24;
const PAD = 16;

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Depth of each node: 0 for roots, else 1 + the deepest dependency. */
function depths(nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map();
  const visit = (id, seen) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0; // a cycle cannot be defined; guard anyway
    seen.add(id);
    const deps = (byId.get(id)?.dependsOn ?? []).filter((d) => byId.has(d));
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((dep) => visit(dep, seen)));
    depth.set(id, d);
    return d;
  };
  for (const n of nodes) visit(n.id, new Set());
  return depth;
}

const shorten = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** An <svg> of the run's nodes ({id, status, dependsOn}) and their edges. */
export function runGraph(runId, nodes) {
  const depth = depths(nodes);
  const columns = [];
  for (const n of nodes) (columns[depth.get(n.id)] ??= []).push(n);
  const position = new Map();
  columns.forEach((column, x) => column.forEach((n, y) => position.set(n.id, { x: PAD + x * (NODE_W + GAP_X), y: PAD + y * (NODE_H + GAP_Y) })));
  const width = PAD * 2 + Math.max(1, columns.length) * (NODE_W + GAP_X) - GAP_X;
  const height = PAD * 2 + Math.max(1, ...columns.map((c) => c.length)) * (NODE_H + GAP_Y) - GAP_Y;

  const svg = el('svg', { xmlns: SVG, viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-labelledby': 'run-graph-title' });
  svg.append(el('title', { id: 'run-graph-title' }, `Run ${runId}: ${nodes.map((n) => `${n.id} ${n.status}`).join(', ')}`));
  const defs = el('defs');
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }));
  defs.append(marker);
  svg.append(defs);

  for (const n of nodes) {
    const to = position.get(n.id);
    for (const dep of n.dependsOn ?? []) {
      const from = position.get(dep);
      if (!from) continue;
      const x1 = from.x + NODE_W;
      const y1 = from.y + NODE_H / 2;
      const x2 = to.x;
      const y2 = to.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      svg.append(el('path', { class: 'edge', d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`, 'marker-end': 'url(#arrow)', 'data-from': dep, 'data-to': n.id }));
    }
  }
  for (const n of nodes) {
    const { x, y } = position.get(n.id);
    const group = el('g', { class: `node state-${n.status}`, 'data-node-id': n.id, 'data-status': n.status });
    group.append(el('rect', { x, y, width: NODE_W, height: NODE_H, rx: 6 }));
    group.append(el('text', { x: x + 8, y: y + 19, class: 'id' }, shorten(n.id, 22)));
    group.append(el('text', { x: x + 8, y: y + 36, class: 'state' }, n.attempts > 1 ? `${n.status} (${n.attempts} attempts)` : n.status));
    if (n.error) group.append(el('title', {}, `${n.id}: ${n.error}`));
    svg.append(group);
  }
  return svg;
}
