/*
 * taxonomy/load-taxonomy
 * ======================
 * Builds the taxonomy engine from the configured ontology file (none when the engine is
 * disabled), and the check the registry runs on the classes an artifact declares.
 */
import { loadOntology } from './ontology-loader.js';
import { TAXONOMY_LABEL, TaxonomyEngine } from './taxonomy-engine.js';

export async function loadTaxonomy(ontologyPath: string | undefined): Promise<TaxonomyEngine> {
  return new TaxonomyEngine(ontologyPath ? await loadOntology(ontologyPath) : []);
}

/** Artifacts declare classes with the label `taxonomy`; each must be a concept of the ontology. */
export function checkDeclaredClasses(taxonomy: TaxonomyEngine, labels: Record<string, string>): void {
  const declared = labels[TAXONOMY_LABEL];
  if (declared !== undefined) taxonomy.checkDeclared(declared);
}
