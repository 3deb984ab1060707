/*
 * Resource URIs
 * =============
 * Built in one place: tools name them in results (contentUri), resources match them, and
 * change events announce them. Each variable is one URL-encoded path segment.
 */

export const runUri = (id: string) => `dag://runs/${encodeURIComponent(id)}`;
export const workflowUri = (name: string) => `dag://workflows/${encodeURIComponent(name)}`;
export const collectionUri = (name: string) => `rag://collections/${encodeURIComponent(name)}`;
/** Announced (never served) when a policy changes, so every replica re-reads the policy set. */
export const POLICIES_URI = 'governance://policies';
export const conceptUri = (id: string) => `taxonomy://concepts/${encodeURIComponent(id)}`;

export function artifactUri(name: string, version: string): string {
  return `registry://artifacts/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
}

/** MCP Apps (`ui://` resources, text/html;profile=mcp-app) the tools name in `_meta.ui.resourceUri`. */
export const PROMOTION_REVIEW_APP_URI = 'ui://mcp-level3/promotion-review';
export const RUN_GRAPH_APP_URI = 'ui://mcp-level3/run-graph';
