import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOntology } from '../../src/engines/taxonomy/ontology-loader.js';
import { TaxonomyEngine } from '../../src/engines/taxonomy/taxonomy-engine.js';

describe('ontology loading', () => {
  it('reads the shipped OWL ontology (RDF/XML): classes, labels, subclasses', async () => {
    const concepts = await loadOntology(resolve('config/ontology.owl'));
    const ids = concepts.map((c) => c.id);
    for (const kind of ['Model', 'Dataset', 'Workflow', 'Policy', 'Document']) expect(ids).toContain(kind);
    const model = concepts.find((c) => c.id === 'Model')!;
    expect(model).toMatchObject({ iri: 'https://mcp-level3.dev/ontology/artifacts#Model', label: 'model', parents: ['Artifact'] });
    expect(model.altLabels).toContain('ML model');
    expect(model.children).toEqual(expect.arrayContaining(['Classifier', 'LanguageModel']));
  });

  it('reads SKOS in Turtle: prefLabel, altLabel, broader and narrower, English labels first', async () => {
    const concepts = await loadOntology(resolve('test/fixtures/taxonomy/skos.ttl'));
    const byId = Object.fromEntries(concepts.map((c) => [c.id, c]));
    expect(byId.Vehicle).toMatchObject({ label: 'vehicle', children: ['Bicycle', 'Car'] });
    expect(byId.Vehicle!.altLabels).toEqual(['véhicule']);
    expect(byId.Car).toMatchObject({ parents: ['Vehicle'], altLabels: ['automobile'], definition: 'A road vehicle with four wheels.' });
    expect(byId.Bicycle!.parents).toEqual(['Vehicle']);
  });

  it('names the file and the syntax problem when the ontology is malformed', async () => {
    await expect(loadOntology(resolve('test/fixtures/taxonomy/missing.ttl'))).rejects.toThrow(/ontologyPath: cannot read .*missing\.ttl/);
    await expect(loadOntology(resolve('package.json'))).rejects.toThrow(/package\.json is not valid Turtle/);
  });
});

describe('taxonomy look-up and classification', async () => {
  const taxonomy = new TaxonomyEngine(await loadOntology(resolve('config/ontology.owl')));

  it('finds a concept by IRI, id, label, alt label, and a misspelt label', () => {
    expect(taxonomy.lookup('https://mcp-level3.dev/ontology/artifacts#Runbook', 1)[0]!.concept.id).toBe('Runbook');
    expect(taxonomy.lookup('classifier', 1)[0]).toMatchObject({ score: 1 });
    expect(taxonomy.lookup('LLM', 1)[0]!.concept.id).toBe('LanguageModel');
    expect(taxonomy.lookup('clasifier', 1)[0]!.concept.id).toBe('Classifier');
    expect(taxonomy.lookup('zzzzqqq', 5)).toEqual([]);
  });

  it('walks the tree from the top or from a root, to a depth', () => {
    const top = taxonomy.tree(undefined, 1);
    expect(top[0]).toEqual({ id: 'Artifact', label: 'artifact', parent: null, depth: 0 });
    expect(top.filter((n) => n.depth === 1).map((n) => n.id)).toEqual(['Dataset', 'Document', 'Model', 'Policy', 'Workflow']);
    const models = taxonomy.tree('Model', 1).map((n) => n.id);
    expect(models).toEqual(['Model', 'Classifier', 'EmbeddingModel', 'LanguageModel', 'Regressor']);
  });

  it('ranks concepts for a text and says which labels matched', () => {
    const [first] = taxonomy.classify('A gradient-boosted classifier that predicts customer churn from usage data.', 3);
    expect(first!.concept.id).toBe('Classifier');
    expect(first!.evidence).toContain('label "classifier"');
    const [runbook] = taxonomy.classify('On-call guide: how to restart the ingestion workers', 1);
    expect(runbook!.concept.id).toBe('Runbook');
  });

  it('accepts declared classes by label or id and refuses an unknown one with suggestions', () => {
    expect(taxonomy.checkDeclared('Classifier, model card').map((c) => c.id)).toEqual(['Classifier', 'ModelCard']);
    expect(() => taxonomy.checkDeclared('clasifier')).toThrow(/unknown class "clasifier"; did you mean "classifier"/);
  });
});
