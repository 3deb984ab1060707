/*
 * Promotion resources: the promotion review, an MCP App promotion_request and
 * promotion_status name (`_meta.ui.resourceUri`).
 */
import { promotionPending, promotionStatus } from '../tools/promotion.js';
import { MCP_APP_MIME_TYPE, mcpAppHtml } from '../src/surface/mcp-app.js';
import { defineResource } from '../src/surface/resource.js';
import { PROMOTION_REVIEW_APP_URI } from '../src/surface/uris.js';

export const promotionReviewApp = defineResource({
  name: 'promotion-review-app',
  engine: 'promotion',
  uriTemplate: PROMOTION_REVIEW_APP_URI,
  title: 'Promotion review (MCP App)',
  description: 'HTML view of a promotion_request or promotion_status result: gates with their messages, and the version against the environment alias.',
  scope: promotionStatus.scope,
  governedAs: { operation: promotionPending.name, input: () => ({}) },
  async read() {
    return { mimeType: MCP_APP_MIME_TYPE, text: mcpAppHtml('promotion-review') };
  },
});

export const PROMOTION_RESOURCES = [promotionReviewApp];
