/*
 * The engines a running server holds, built once the database and cache are open.
 */
import type { DagEngine } from './dag/dag-engine.js';
import type { Executor } from './execution/executor.js';
import type { GovernanceEngine } from './governance/governance-engine.js';
import type { PromotionEngine } from './promotion/promotion-engine.js';
import type { RagEngine } from './rag/rag-engine.js';
import type { RegistryEngine } from './registry/registry-engine.js';
import type { TaxonomyEngine } from './taxonomy/taxonomy-engine.js';
import type { ValidationEngine } from './validation/validation-engine.js';

export interface Engines {
  rag: RagEngine;
  registry: RegistryEngine;
  validation: ValidationEngine;
  dag: DagEngine;
  execution: Executor;
  governance: GovernanceEngine;
  taxonomy: TaxonomyEngine;
  promotion: PromotionEngine;
}
