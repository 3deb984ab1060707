# syntax=docker/dockerfile:1
#
# mcp-level3 container image
# ==========================
#   docker build -t mcp-level3:1.0.0 .
#   docker run --rm -p 8080:8080 -v mcp-data:/data mcp-level3:1.0.0 http --insecure-no-auth
#   docker build --build-arg ONNX_MODEL= -t mcp-level3:1.0.0-slim .    # no embedding model (offline embedder)
#
# Three stages on Node 24 LTS: `build` compiles TypeScript with the dev dependencies,
# `deps` installs the production dependencies only, `runtime` copies the two results and
# nothing else (no compiler, no npm cache, no sources). The runtime runs as uid 1000 and
# writes only under /data (the embedded PGlite database and its lock file), so the root
# filesystem can be mounted read-only. `.ci/image.sh` lays this image out from this file
# without a Docker engine and runs it read-only; docs/deployment.md has the details.

ARG NODE_IMAGE=node:24-bookworm-slim
# The embedding model baked in: quantized (the default: all-MiniLM-L6-v2's 23 MB export, what
# the server embeds with unless told otherwise) or full (then run with
# EMBEDDINGS_MODEL_DIR=/app/models/all-MiniLM-L6-v2). `npm run model:fetch` runs in the build
# stage, the model lands in /app/models and onnxruntime-node in node_modules. Empty: neither,
# and the server embeds with the offline hashed embedder, saying so in its log.
ARG ONNX_MODEL=quantized

# ---------------------------------------------------------------- build: tsc
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# --ignore-scripts: `prepare` would run tsc before the sources are copied in.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
COPY tools ./tools
COPY resources ./resources
COPY prompts ./prompts
COPY console ./console
COPY scripts ./scripts
RUN npm run build
ARG ONNX_MODEL
RUN mkdir -p models && if [ -n "${ONNX_MODEL}" ]; then node scripts/fetch-model.mjs --variant "${ONNX_MODEL}"; fi

# ---------------------------------------------------------------- deps: production only
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ARG ONNX_MODEL
COPY package.json package-lock.json ./
# onnxruntime-node is optional and bundles binaries for every platform (~290 MB): installed
# only with a model, and then without its macOS and Windows binaries.
RUN if [ -z "${ONNX_MODEL}" ]; then npm ci --omit=dev --omit=optional --no-audit --no-fund --ignore-scripts; \
    else npm ci --omit=dev --no-audit --no-fund --ignore-scripts && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32; fi

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="mcp-level3" \
      org.opencontainers.image.description="MCP server for rag, dag, execution, governance, taxonomy, validation, promotion and registry engines" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    MCP_HOST=0.0.0.0 \
    MCP_PORT=8080 \
    MCP_DATA_DIR=/data
WORKDIR /app
COPY package.json ./
COPY config ./config
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/models ./models
# /data is the only place the server writes; owned by the runtime user so an empty volume works.
RUN mkdir -p /data && chown 1000:1000 /data
VOLUME ["/data"]
# Numeric, so Kubernetes' runAsNonRoot can verify it (the image's `node` user is 1000).
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.MCP_PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/bundle/cli.js"]
# Binds MCP_HOST (0.0.0.0). A non-loopback bind needs authentication configured (env, see
# config/auth-config.yaml) or --insecure-no-auth for a trusted network: the server refuses
# to start otherwise, with a message saying so.
CMD ["http"]
