// Writes kubeconform schemas (kubeconform's "standalone-strict" layout) for the kinds found
// in the given manifests, from the Kubernetes OpenAPI (api/openapi-spec/swagger.json of the
// k8s.io/kubernetes module) and from CustomResourceDefinition files (for ServiceMonitor,
// PrometheusRule, Canary). No download of prebuilt schemas: the same conversion kubeconform's
// openapi2jsonschema does, for the kinds at hand:
//   - each file is standalone: the definitions it reaches, under "definitions";
//   - strict: objects with declared properties get additionalProperties: false (a misspelt
//     field is an error), as kubeconform's -strict schemas do;
//   - int-or-string and Quantity accept a string or a number, as the API server does.
// Usage: node .ci/k8s-schemas.mjs <swagger.json> <out-dir> <crd.yaml,...|-> <manifest.yaml...>
// File names: <kind>-<group prefix>-<version>.json, lower case (kubeconform's
// {{ .ResourceKind }}{{ .KindSuffix }}). Prints the kinds it wrote, one per line.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const [swaggerPath, outDir, crdList, ...manifests] = process.argv.slice(2);
const swagger = JSON.parse(readFileSync(swaggerPath, 'utf8'));
const defs = swagger.definitions;
mkdirSync(outDir, { recursive: true });

const fileName = (group, version, kind) => `${kind}${group ? `-${group.split('.')[0]}` : ''}-${version}`.toLowerCase() + '.json';

function fix(node, strict) {
  if (Array.isArray(node)) return node.map((n) => fix(n, strict));
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, fix(s, strict)])) : fix(v, strict);
  if (out.format === 'int-or-string' || out['x-kubernetes-int-or-string']) { delete out.type; delete out.format; out.oneOf = [{ type: 'string' }, { type: 'integer' }]; }
  if (strict && out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

// ---------------------------------------------------------------- kinds in the manifests
const wanted = new Map();
for (const file of manifests) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const m = doc.toJS();
    if (!m?.kind || !m.apiVersion) continue;
    const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : ['', m.apiVersion];
    wanted.set(`${group}/${version}/${m.kind}`, { group, version, kind: m.kind });
  }
}

// ---------------------------------------------------------------- built-in kinds
const byGvk = new Map();
for (const [name, def] of Object.entries(defs)) {
  for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) byGvk.set(`${gvk.group}/${gvk.version}/${gvk.kind}`, name);
}
function closure(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  JSON.stringify(defs[name], (k, v) => { if (k === '$ref') closure(v.replace('#/definitions/', ''), seen); return v; });
  return seen;
}
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const written = [];
for (const [key, { group, version, kind }] of wanted) {
  const name = byGvk.get(key);
  if (!name) continue;
  const definitions = {};
  for (const d of closure(name)) definitions[d] = d === QUANTITY ? { oneOf: [{ type: 'string' }, { type: 'number' }] } : fix(defs[d], true);
  const schema = { ...fix(defs[name], true), definitions };
  writeFileSync(join(outDir, fileName(group, version, kind)), JSON.stringify(schema));
  written.push(key);
  wanted.delete(key);
}

// ---------------------------------------------------------------- custom resources
for (const file of crdList && crdList !== '-' ? crdList.split(',') : []) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = doc.toJS();
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    for (const v of crd.spec.versions ?? []) {
      const key = `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`;
      if (!wanted.has(key) || !v.schema?.openAPIV3Schema) continue;
      writeFileSync(join(outDir, fileName(crd.spec.group, v.name, crd.spec.names.kind)), JSON.stringify(fix(v.schema.openAPIV3Schema, true)));
      written.push(key);
      wanted.delete(key);
    }
  }
}
for (const key of written) console.log(key);
for (const key of wanted.keys()) console.error(`k8s-schemas: no schema for ${key}`);
