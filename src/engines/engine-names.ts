/*
 * Engine identifiers
 * ==================
 * Each engine has a short id (toolset names, tool-name prefixes, scopes) and the name the
 * seed deployment guide gives it, which is both its key in config/engine_map.yaml and the
 * `engine` field of its log lines (`kubectl logs ... | grep "RAG_engine"`).
 */

export const ENGINE_IDS = ['rag', 'dag', 'execution', 'governance', 'taxonomy', 'validation', 'promotion', 'registry'] as const;
export type EngineId = (typeof ENGINE_IDS)[number];

export const ENGINE_NAMES = {
  rag: 'RAG_engine',
  dag: 'DAG_engine',
  execution: 'execution',
  governance: 'governance',
  taxonomy: 'taxonomy',
  validation: 'validation',
  promotion: 'promotion',
  registry: 'registry',
} as const satisfies Record<EngineId, string>;

export type EngineName = (typeof ENGINE_NAMES)[EngineId];
