{{/* Names and labels. "app: mcp-level3" is the label the guide's commands and scrape config select on. */}}
{{- define "mcp-level3.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mcp-level3.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "mcp-level3.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-level3.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mcp-level3.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "mcp-level3.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "mcp-level3.serviceAccountName" -}}
{{- if .Values.security.serviceAccount.create -}}
{{- default (include "mcp-level3.fullname" .) .Values.security.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.security.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The embedded database is one process's: one replica, never autoscaled. */}}
{{- define "mcp-level3.embedded" -}}
{{- if eq .Values.database.type "embedded" -}}true{{- end -}}
{{- end -}}

{{- define "mcp-level3.replicas" -}}
{{- if include "mcp-level3.embedded" . -}}1{{- else -}}{{ .Values.replicaCount }}{{- end -}}
{{- end -}}

{{- define "mcp-level3.autoscaling" -}}
{{- if and .Values.autoscaling.enabled (not (include "mcp-level3.embedded" .)) -}}true{{- end -}}
{{- end -}}

{{- define "mcp-level3.storageClass" -}}
{{- $sc := .storageClass | default .root.Values.engines.registry.storageClass -}}
{{- if $sc }}
storageClassName: {{ $sc | quote }}
{{- end }}
{{- end -}}

{{- define "mcp-level3.postgresqlHost" -}}
{{- printf "%s-postgresql" (include "mcp-level3.fullname" .) -}}
{{- end -}}

{{- define "mcp-level3.neo4jHost" -}}
{{- printf "%s-neo4j" (include "mcp-level3.fullname" .) -}}
{{- end -}}

{{- define "mcp-level3.redisHost" -}}
{{- printf "%s-redis" (include "mcp-level3.fullname" .) -}}
{{- end -}}

{{- define "mcp-level3.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.secrets.existingSecret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* config/engine_map.yaml as the server reads it (src/config/schema.ts). */}}
{{- define "mcp-level3.engineMap" -}}
{{- $e := .Values.engines -}}
{{- $rag := dict "vectorStore" $e.rag.vectorStore.type "graphStore" $e.rag.graphStore.type -}}
{{- $rag = merge $rag ($e.rag.settings | default dict) -}}
{{- $map := dict
  "RAG_engine" (dict "enabled" $e.rag.enabled "semantic_role" "Contextual Retrieval and Generation" "modules" (list "VectorRAG" "GraphRAG" "HybridRAG") "settings" $rag)
  "DAG_engine" (dict "enabled" $e.dag.enabled "semantic_role" "Workflow Orchestration" "settings" (dict "maxNodes" $e.dag.maxNodes))
  "execution" (dict "enabled" $e.execution.enabled "semantic_role" "Bounded Execution" "settings" (dict "maxConcurrency" $e.execution.maxConcurrency))
  "governance" (dict "enabled" $e.governance.enabled "semantic_role" "Policy and Audit" "settings" (dict "auditLevel" $e.governance.auditLevel))
  "taxonomy" (dict "enabled" $e.taxonomy.enabled "semantic_role" "Shared Vocabulary" "settings" (dict "ontologyPath" $e.taxonomy.ontologyPath))
  "validation" (dict "enabled" $e.validation.enabled "semantic_role" "Correctness Gates" "settings" (dict "strictMode" $e.validation.strictMode))
  "promotion" (dict "enabled" $e.promotion.enabled "semantic_role" "Controlled Release" "settings" (dict "approvalRequired" $e.promotion.approvalRequired))
  "registry" (dict "enabled" $e.registry.enabled "semantic_role" "Artifact Registry" "settings" (dict "storageClass" $e.registry.storageClass "maxContentBytes" $e.registry.maxContentBytes))
-}}
{{- $file := dict
  "engine_map" $map
  "database" (dict "pool" .Values.database.pool)
  "cache" .Values.cache
  "logging" (dict "level" .Values.observability.logging.level "format" .Values.observability.logging.format)
-}}
# Rendered by the mcp-level3 chart from its values (engines.*, database.pool, cache,
# observability.logging); validated by the server at start-up.
{{ toYaml $file }}
{{- end -}}

{{- define "mcp-level3.apiRoutes" -}}
# Rendered by the mcp-level3 chart from apiRoutes.
{{ toYaml .Values.apiRoutes }}
{{- end -}}
