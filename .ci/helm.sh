#!/usr/bin/env bash
# Checks the Helm chart deploy/helm/mcp-level3 without a cluster:
#   - values.schema.json is what deploy/helm/values-schema.mjs generates;
#   - helm lint --strict with the default values and each of ci/*-values.yaml;
#   - helm template of each variant (default, the guide's values, production-like, embedded),
#     validated by kubeconform in strict mode against schemas made from the Kubernetes
#     OpenAPI (k8s.io/kubernetes api/openapi-spec via the Go module proxy; .ci/k8s-schemas.mjs);
#   - .ci/helm-check.mjs per variant: the guide's names, keys and defaults, restricted pod
#     security, secrets by reference, one replica on the embedded database, and the rendered
#     ConfigMaps loaded by the server's own loadConfig (dist/);
#   - negative cases that must fail: a value the server rejects, one the values schema
#     rejects, a misspelt manifest field that kubeconform must catch;
#   - the docs' blue-green green release renders next to blue with no object name in common;
#   - promtool check rules and promtool test rules on the PrometheusRule;
#   - deploy/observability/: promtool check rules and test rules on alerting-rules.yaml (and a
#     mutated copy the tests must reject), promtool check config on prometheus-static.yaml,
#     and .ci/observability-check.mjs (the dashboard is what dashboard.mjs prints and queries
#     only metrics src/platform/metrics.ts registers; the rules likewise; the Kubernetes scrape
#     config applied to the rendered pods; the chart links the same rules file).
# Tools are built or fetched once into $CI_SERVICES_DIR/helm: helm and kubeconform with
# `go install`, the Kubernetes OpenAPI with `go mod download`, promtool from Debian's
# `prometheus` package (apt-get). ServiceMonitor, PrometheusRule and Canary are custom
# resources whose CRD schemas are not to be had offline: kubeconform skips them (counted
# as skipped), the checks above and promtool cover them.
#
# Env: CI_SERVICES_DIR (default /tmp/mcp-ci-services), HELM_SUMMARY (summary JSON path),
#      HELM_VERSION (v3.22.0), KUBECONFORM_VERSION (v0.8.0), KUBE_VERSION (1.34.2)
# The last stdout line is "N passed, M failed[, K skipped]"; exits 1 when a check failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}/helm"
SUMMARY="${HELM_SUMMARY:-$BASE/summary.json}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.8.0}"
KUBE_VERSION="${KUBE_VERSION:-1.34.2}"
CHART="$ROOT/deploy/helm/mcp-level3"
OUT="$BASE/out"
log() { echo "[helm.sh] $*" >&2; }

passed=0; failed=0; skipped=0
check() { # check NAME STATUS DETAIL
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); log "PASS $1"; else failed=$((failed + 1)); log "FAIL $1${3:+: $3}"; fi
}
finish() {
  mkdir -p "$(dirname "$SUMMARY")"
  printf '{"passed":%d,"failed":%d,"skipped":%d}\n' "$passed" "$failed" "$skipped" > "$SUMMARY"
  echo "$passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
  [ "$failed" -eq 0 ]; exit $?
}

# ---------------------------------------------------------------- tools
export GOMODCACHE="$BASE/go/mod" GOCACHE="$BASE/go/cache" GOBIN="$BASE/bin" GOFLAGS=-buildvcs=false
mkdir -p "$GOBIN"
HELM="$GOBIN/helm"; KUBECONFORM="$GOBIN/kubeconform"
stamp() { go version -m "$GOBIN/$1" 2>/dev/null | awk '$1 == "mod" { print $3 }'; }  # the module version built in
if [ ! -x "$HELM" ] || [ "$(stamp helm)" != "$HELM_VERSION" ]; then
  log "building helm $HELM_VERSION (go install; a few minutes the first time)"
  nice -n 5 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2 \
    || { check "build helm $HELM_VERSION" 1; finish; }
fi
if [ ! -x "$KUBECONFORM" ] || [ "$(stamp kubeconform)" != "$KUBECONFORM_VERSION" ]; then
  log "building kubeconform $KUBECONFORM_VERSION"
  nice -n 5 go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" >&2 \
    || { check "build kubeconform $KUBECONFORM_VERSION" 1; finish; }
fi
# --tools-only: build and fetch the Go tools, then stop (.ci/run does this in the background early).
[ "${1:-}" = --tools-only ] && { go mod download "k8s.io/kubernetes@v$KUBE_VERSION" >&2; exit $?; }
K8S_DIR="$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).Dir??"")}catch{console.log("")}})')"
SWAGGER="$K8S_DIR/api/openapi-spec/swagger.json"
[ -f "$SWAGGER" ] || { check "Kubernetes $KUBE_VERSION OpenAPI from the Go module proxy" 1 "no $SWAGGER"; finish; }
if ! command -v promtool >/dev/null; then
  log "installing Debian's prometheus package for promtool"
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus; } >&2 \
    || { check "install promtool (apt-get install prometheus)" 1; finish; }
fi
log "helm $("$HELM" version --template '{{.Version}}') ($HELM_VERSION), kubeconform $("$KUBECONFORM" -v), Kubernetes $KUBE_VERSION schemas, $(promtool --version 2>&1 | head -n1)"
[ -f "$ROOT/dist/src/config/load-config.js" ] || (cd "$ROOT" && npm run build >&2)

rm -rf "$OUT"; mkdir -p "$OUT"

# ---------------------------------------------------------------- values schema
node "$ROOT/deploy/helm/values-schema.mjs" | diff -q - "$CHART/values.schema.json" >/dev/null
check "values.schema.json matches deploy/helm/values-schema.mjs" $? "regenerate: node deploy/helm/values-schema.mjs > deploy/helm/mcp-level3/values.schema.json"

# ---------------------------------------------------------------- variants
VARIANTS=(default seed production embedded)
values_args() { [ "$1" = default ] || echo "-f $CHART/ci/$1-values.yaml"; }
for v in "${VARIANTS[@]}"; do
  # shellcheck disable=SC2046
  "$HELM" lint --strict --kube-version "$KUBE_VERSION" "$CHART" $(values_args "$v") >"$OUT/lint-$v.log" 2>&1
  check "helm lint --strict ($v)" $? "$(tail -n 5 "$OUT/lint-$v.log")"
  # shellcheck disable=SC2046
  "$HELM" template mcp-level3 "$CHART" --namespace mcp-level3 --kube-version "$KUBE_VERSION" $(values_args "$v") >"$OUT/$v.yaml" 2>"$OUT/template-$v.log"
  check "helm template ($v)" $? "$(tail -n 5 "$OUT/template-$v.log")"
done

node "$ROOT/.ci/k8s-schemas.mjs" "$SWAGGER" "$OUT/schemas" - "$OUT"/*.yaml >"$OUT/schemas.txt" 2>"$OUT/schemas.log"
check "Kubernetes $KUBE_VERSION JSON schemas for $(wc -l <"$OUT/schemas.txt") kinds" $? "$(cat "$OUT/schemas.log")"
CRDS=ServiceMonitor,PrometheusRule,Canary
kubeconform() { "$KUBECONFORM" -strict -summary -output json -skip "$CRDS" -schema-location "$OUT/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"; }
for v in "${VARIANTS[@]}"; do
  kubeconform "$OUT/$v.yaml" >"$OUT/kubeconform-$v.json" 2>&1
  code=$?
  read -r valid skip < <(node -e 'const s=require(process.argv[1]).summary; console.log(s.valid, s.skipped)' "$OUT/kubeconform-$v.json" 2>/dev/null || echo "0 0")
  [ "$code" -eq 0 ] && [ "${valid:-0}" -gt 0 ]
  check "kubeconform -strict ($v: $valid resources valid)" $? "$(head -c 600 "$OUT/kubeconform-$v.json")"
  skipped=$((skipped + ${skip:-0}))
  json="$(cd "$ROOT" && node .ci/helm-check.mjs "$v" "$OUT/$v.yaml" "$OUT/check-$v" 2>"$OUT/check-$v.log")"
  cat "$OUT/check-$v.log" >&2
  p="$(node -e 'console.log(JSON.parse(process.argv[1]).passed)' "$json" 2>/dev/null || echo 0)"
  f="$(node -e 'console.log(JSON.parse(process.argv[1]).failed)' "$json" 2>/dev/null || echo 1)"
  passed=$((passed + p)); failed=$((failed + f))
done

# ---------------------------------------------------------------- negative cases
"$HELM" template mcp-level3 "$CHART" --kube-version "$KUBE_VERSION" --set-string engines.rag.settings.chunkSize=ten >"$OUT/bad-server.yaml" 2>&1
t=$?
(cd "$ROOT" && node .ci/helm-check.mjs default "$OUT/bad-server.yaml" "$OUT/check-bad") >/dev/null 2>"$OUT/check-bad.log"
c=$?
[ "$t" -eq 0 ] && [ "$c" -ne 0 ] && grep -q 'RAG_engine.settings.chunkSize: expected a positive integer' "$OUT/check-bad.log"
check "a value the server rejects (chunkSize=ten) fails the config check" $?
! "$HELM" template mcp-level3 "$CHART" --kube-version "$KUBE_VERSION" --set engines.dag.maxNodes=0 >/dev/null 2>"$OUT/bad-schema.log"
s1=$?; grep -q maxNodes "$OUT/bad-schema.log"; s2=$?
check "values.schema.json rejects engines.dag.maxNodes=0" $((s1 | s2))
! "$HELM" template mcp-level3 "$CHART" --kube-version "$KUBE_VERSION" --set engines.rag.vectorStor.type=pgvector >/dev/null 2>&1
check "values.schema.json rejects a misspelt key (engines.rag.vectorStor)" $?
sed 's/containerPort: 8080/containerPortt: 8080/' "$OUT/default.yaml" >"$OUT/bad-manifest.yaml"
! kubeconform "$OUT/bad-manifest.yaml" >/dev/null 2>&1
check "kubeconform rejects a misspelt field (containerPortt)" $?

# ---------------------------------------------------------------- blue-green (docs/deployment.md)
# The green release of the docs' blue-green steps, next to the production-like blue one in the
# same namespace: no object may share a kind and name with blue's.
"$HELM" template mcp-green "$CHART" --namespace mcp-level3 --kube-version "$KUBE_VERSION" -f "$CHART/ci/production-values.yaml" \
  --set image.tag=1.1.0,controlPlane.name=mcp-control-plane-green \
  --set configMaps.engineMap.name=engine-map-green,configMaps.apiRoutes.name=api-routes-green \
  --set ingress.enabled=false,service.type=ClusterIP,canary.enabled=false \
  --set observability.metrics.prometheusRule.enabled=false >"$OUT/green.yaml" 2>"$OUT/green.log"
t=$?
node -e '
  const { parseAllDocuments } = require("yaml"); const fs = require("node:fs");
  const names = (f) => parseAllDocuments(fs.readFileSync(f, "utf8")).map((d) => d.toJS()).filter(Boolean).map((d) => `${d.kind}/${d.metadata.name}`);
  const blue = new Set(names(process.argv[1])); const green = names(process.argv[2]);
  const common = green.filter((n) => blue.has(n));
  const pods = parseAllDocuments(fs.readFileSync(process.argv[2], "utf8")).map((d) => d.toJS()).find((d) => d?.kind === "Deployment");
  if (green.length === 0 || common.length > 0 || pods.spec.template.metadata.labels["app.kubernetes.io/instance"] !== "mcp-green") { console.error("in common:", common.join(", ") || "-", "green:", green.length); process.exit(1); }' \
  "$OUT/production.yaml" "$OUT/green.yaml" 2>"$OUT/green-check.log"
c=$?
[ "$t" -eq 0 ] && [ "$c" -eq 0 ]
check "blue-green: the docs' green release shares no object name with blue" $? "$(cat "$OUT/green.log" "$OUT/green-check.log" | grep -v 'symbolic link')"

# ---------------------------------------------------------------- alert rules
mkdir -p "$OUT/rules"
node -e '
  const { parseAllDocuments, stringify } = require("yaml"); const fs = require("node:fs");
  const rule = parseAllDocuments(fs.readFileSync(process.argv[1], "utf8")).map((d) => d.toJS()).find((d) => d?.kind === "PrometheusRule");
  if (!rule) process.exit(1);
  fs.writeFileSync(process.argv[2], stringify(rule.spec));' "$OUT/production.yaml" "$OUT/rules/rules.yaml"
check "PrometheusRule rendered (production)" $?
promtool check rules "$OUT/rules/rules.yaml" >"$OUT/promtool-check.log" 2>&1
check "promtool check rules" $? "$(cat "$OUT/promtool-check.log")"
cp "$CHART/ci/rules-test.yaml" "$OUT/rules/"
(cd "$OUT/rules" && promtool test rules rules-test.yaml) >"$OUT/promtool-test.log" 2>&1
check "promtool test rules on the chart's PrometheusRule (narrowed to the release's namespace)" $? "$(cat "$OUT/promtool-test.log")"

# ---------------------------------------------------------------- deploy/observability
OBS="$ROOT/deploy/observability"
promtool check rules "$OBS/alerting-rules.yaml" >"$OUT/obs-check.log" 2>&1
check "promtool check rules deploy/observability/alerting-rules.yaml" $? "$(cat "$OUT/obs-check.log")"
(cd "$OBS" && promtool test rules alerting-rules.test.yaml) >"$OUT/obs-test.log" 2>&1
check "promtool test rules deploy/observability/alerting-rules.test.yaml (each alert fires and stays quiet as it should)" $? "$(cat "$OUT/obs-test.log")"
# The tests must bite: with HighErrorRate's threshold at 50% or DagRunFailureRate without its
# minimum of 5 runs, they fail.
mkdir -p "$OUT/obs-mutant"; cp "$OBS/alerting-rules.test.yaml" "$OUT/obs-mutant/"
sed 's/\[5m\])) > 0.05$/[5m])) > 0.5/' "$OBS/alerting-rules.yaml" >"$OUT/obs-mutant/alerting-rules.yaml"
! cmp -s "$OBS/alerting-rules.yaml" "$OUT/obs-mutant/alerting-rules.yaml" && ! (cd "$OUT/obs-mutant" && promtool test rules alerting-rules.test.yaml) >/dev/null 2>&1
check "promtool test rules rejects HighErrorRate at 50%" $?
sed 's/ >= 5$/ >= 0/' "$OBS/alerting-rules.yaml" >"$OUT/obs-mutant/alerting-rules.yaml"
! cmp -s "$OBS/alerting-rules.yaml" "$OUT/obs-mutant/alerting-rules.yaml" && ! (cd "$OUT/obs-mutant" && promtool test rules alerting-rules.test.yaml) >/dev/null 2>&1
check "promtool test rules rejects DagRunFailureRate without its minimum of runs" $?
promtool check config "$OBS/prometheus-static.yaml" >"$OUT/obs-config.log" 2>&1
check "promtool check config deploy/observability/prometheus-static.yaml" $? "$(cat "$OUT/obs-config.log")"
json="$(cd "$ROOT" && node .ci/observability-check.mjs "$OUT/default.yaml" 2>"$OUT/observability-check.log")"
cat "$OUT/observability-check.log" >&2
p="$(node -e 'console.log(JSON.parse(process.argv[1]).passed)' "$json" 2>/dev/null || echo 0)"
f="$(node -e 'console.log(JSON.parse(process.argv[1]).failed)' "$json" 2>/dev/null || echo 1)"
passed=$((passed + p)); failed=$((failed + f))

finish
