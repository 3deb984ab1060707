/*
 * taxonomy/ontology-loader
 * ========================
 * Reads an ontology file into concepts: OWL classes (rdfs:subClassOf) and SKOS concepts
 * (skos:broader / skos:narrower), with their labels (skos:prefLabel, rdfs:label,
 * skos:altLabel) and definitions (skos:definition, rdfs:comment). RDF/XML is parsed with
 * rdfxml-streaming-parser, Turtle and N-Triples with n3. Blank nodes (OWL restrictions)
 * are not concepts.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
// Each parser is imported when a file of its format is read: the shipped ontology is
// RDF/XML, and n3 would otherwise stay loaded for nothing (about 9 MB of RSS).

export interface Concept {
  /** Local name of the IRI (after # or the last /), or the IRI when two concepts share one. */
  id: string;
  iri: string;
  label: string;
  altLabels: string[];
  definition?: string;
  parents: string[];
  children: string[];
}

interface Triple {
  subject: string;
  subjectIsIri: boolean;
  predicate: string;
  object: string;
  objectIsIri: boolean;
  language: string;
}

const RDF_TYPE = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#type';
const RDFS = 'http://www.w3.org/2000/01/rdf-schema#';
const OWL = 'http://www.w3.org/2002/07/owl#';
const SKOS = 'http://www.w3.org/2004/02/skos/core#';
const CONCEPT_TYPES = new Set([`${OWL}Class`, `${SKOS}Concept`, `${RDFS}Class`]);
const IGNORED_PARENTS = new Set([`${OWL}Thing`, `${RDFS}Resource`]);

async function parseRdfXml(text: string, baseIRI: string): Promise<Triple[]> {
  const { RdfXmlParser } = await import('rdfxml-streaming-parser');
  const parser = new RdfXmlParser({ baseIRI });
  const triples: Triple[] = [];
  return new Promise((resolve, reject) => {
    parser.on('data', (q: { subject: { termType: string; value: string }; predicate: { value: string }; object: { termType: string; value: string; language?: string } }) =>
      triples.push({
        subject: q.subject.value,
        subjectIsIri: q.subject.termType === 'NamedNode',
        predicate: q.predicate.value,
        object: q.object.value,
        objectIsIri: q.object.termType === 'NamedNode',
        language: q.object.language ?? '',
      }),
    );
    parser.on('error', reject);
    parser.on('end', () => resolve(triples));
    parser.write(text);
    parser.end();
  });
}

async function parseTurtle(text: string, baseIRI: string): Promise<Triple[]> {
  const { Parser: TurtleParser } = await import('n3');
  return new TurtleParser({ baseIRI }).parse(text).map((q) => ({
    subject: q.subject.value,
    subjectIsIri: q.subject.termType === 'NamedNode',
    predicate: q.predicate.value,
    object: q.object.value,
    objectIsIri: q.object.termType === 'NamedNode',
    language: q.object.termType === 'Literal' ? q.object.language : '',
  }));
}

function isRdfXml(path: string, text: string): boolean {
  const ext = extname(path).toLowerCase();
  if (['.ttl', '.n3', '.nt', '.turtle'].includes(ext)) return false;
  if (['.owl', '.rdf', '.xml'].includes(ext)) return /^\s*</.test(text);
  return /^\s*<(\?xml|rdf:RDF)/.test(text);
}

function localName(iri: string): string {
  const cut = Math.max(iri.lastIndexOf('#'), iri.lastIndexOf('/'));
  return cut >= 0 && cut < iri.length - 1 ? iri.slice(cut + 1) : iri;
}

/** English (or untagged) literal first, then any. */
function pick(values: { text: string; language: string }[]): string | undefined {
  return (values.find((v) => v.language === '' || v.language.startsWith('en')) ?? values[0])?.text;
}

export async function loadOntology(path: string): Promise<Concept[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`taxonomy.settings.ontologyPath: cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  let triples: Triple[];
  try {
    triples = isRdfXml(path, text) ? await parseRdfXml(text, `file://${path}`) : await parseTurtle(text, `file://${path}`);
  } catch (error) {
    throw new Error(`taxonomy.settings.ontologyPath: ${path} is not valid ${isRdfXml(path, text) ? 'RDF/XML' : 'Turtle'}: ${(error as Error).message}`, { cause: error });
  }
  return conceptsFrom(triples);
}

export function conceptsFrom(triples: readonly Triple[]): Concept[] {
  const iris = new Set<string>();
  for (const t of triples) {
    if (!t.subjectIsIri) continue;
    if ((t.predicate === RDF_TYPE && CONCEPT_TYPES.has(t.object)) || t.predicate === `${SKOS}prefLabel`) iris.add(t.subject);
  }
  for (const iri of IGNORED_PARENTS) iris.delete(iri);

  const prefLabels = new Map<string, { text: string; language: string }[]>();
  const rdfsLabels = new Map<string, { text: string; language: string }[]>();
  const altLabels = new Map<string, Set<string>>();
  const definitions = new Map<string, { text: string; language: string }[]>();
  const parents = new Map<string, Set<string>>();
  const push = <V>(map: Map<string, V[]>, key: string, value: V) => map.set(key, [...(map.get(key) ?? []), value]);
  const link = (child: string, parent: string) => {
    if (child === parent || !iris.has(child) || !iris.has(parent)) return;
    parents.set(child, (parents.get(child) ?? new Set()).add(parent));
  };

  for (const t of triples) {
    if (!iris.has(t.subject) && !(t.predicate === `${SKOS}narrower` && iris.has(t.object))) continue;
    const literal = { text: t.object.trim().replace(/\s+/g, ' '), language: t.language };
    switch (t.predicate) {
      case `${SKOS}prefLabel`:
        push(prefLabels, t.subject, literal);
        break;
      case `${RDFS}label`:
        push(rdfsLabels, t.subject, literal);
        break;
      case `${SKOS}altLabel`:
        altLabels.set(t.subject, (altLabels.get(t.subject) ?? new Set()).add(literal.text));
        break;
      case `${SKOS}definition`:
      case `${RDFS}comment`:
        push(definitions, t.subject, literal);
        break;
      case `${RDFS}subClassOf`:
      case `${SKOS}broader`:
        if (t.objectIsIri) link(t.subject, t.object);
        break;
      case `${SKOS}narrower`:
        if (t.objectIsIri) link(t.object, t.subject);
        break;
    }
  }

  const localCounts = new Map<string, number>();
  for (const iri of iris) localCounts.set(localName(iri), (localCounts.get(localName(iri)) ?? 0) + 1);
  const idOf = (iri: string) => (localCounts.get(localName(iri)) === 1 ? localName(iri) : iri);

  const concepts = new Map<string, Concept>();
  for (const iri of iris) {
    const label = pick(prefLabels.get(iri) ?? []) ?? pick(rdfsLabels.get(iri) ?? []) ?? localName(iri);
    const alts = new Set([...(altLabels.get(iri) ?? []), ...(rdfsLabels.get(iri) ?? []).map((l) => l.text), ...(prefLabels.get(iri) ?? []).map((l) => l.text)]);
    alts.delete(label);
    const definition = pick(definitions.get(iri) ?? []);
    concepts.set(iri, {
      id: idOf(iri),
      iri,
      label,
      altLabels: [...alts],
      ...(definition ? { definition } : {}),
      parents: [...(parents.get(iri) ?? [])].map(idOf).sort(),
      children: [],
    });
  }
  for (const concept of concepts.values()) {
    for (const parentIri of parents.get(concept.iri) ?? []) concepts.get(parentIri)!.children.push(concept.id);
  }
  for (const concept of concepts.values()) concept.children.sort();
  return [...concepts.values()].sort((a, b) => a.id.localeCompare(b.id));
}
