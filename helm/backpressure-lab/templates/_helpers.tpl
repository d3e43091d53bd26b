{{/*
Names, labels and the pieces every pod shares. Object names are fixed (see values.yaml), so
there is no fullname helper: the README, the port-forwards and the LagAutoscaler's metricsSource
name producer, consumer, lag-monitor, lag-autoscaler and kafka directly.
*/}}

{{- define "backpressure-lab.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "backpressure-lab.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/*
Selector labels of one component. Call with (dict "root" $ "component" "producer").
*/}}
{{- define "backpressure-lab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "backpressure-lab.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
All labels of one component's objects. Call with (dict "root" $ "component" "producer").
*/}}
{{- define "backpressure-lab.labels" -}}
helm.sh/chart: {{ include "backpressure-lab.chart" .root }}
{{ include "backpressure-lab.selectorLabels" . }}
app.kubernetes.io/part-of: backpressure-lab
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/*
An image reference from a component's image values; an empty tag means the chart's appVersion.
Call with (dict "root" $ "image" .Values.producer.image).
*/}}
{{- define "backpressure-lab.image" -}}
{{- printf "%s:%s" .image.repository (.image.tag | default .root.Chart.AppVersion | toString) -}}
{{- end }}

{{/*
The Kafka bootstrap servers every client gets as KAFKA_BROKERS, for each provider.
*/}}
{{- define "backpressure-lab.kafkaBootstrap" -}}
{{- $kafka := .Values.kafka -}}
{{- if eq $kafka.provider "strimzi" -}}
{{- printf "%s-kafka-bootstrap:9092" $kafka.strimzi.clusterName -}}
{{- else if eq $kafka.provider "plain" -}}
kafka:9092
{{- else -}}
{{- required "kafka.bootstrapServers is required when kafka.provider is external" $kafka.bootstrapServers -}}
{{- end -}}
{{- end }}

{{/*
The pods that talk to Kafka, as a NetworkPolicy peer list: the plain broker's NetworkPolicy and
the Strimzi listener's networkPolicyPeers let only these in (kafka-topics is the plain provider's
topic-creation Job; the Kafka UI runs beside Prometheus, in the metrics namespaces).
*/}}
{{- define "backpressure-lab.kafkaClientPeers" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/name: {{ include "backpressure-lab.name" . }}
      app.kubernetes.io/instance: {{ .Release.Name }}
    matchExpressions:
      - key: app.kubernetes.io/component
        operator: In
        values: [producer, consumer, lag-monitor, kafka-topics]
- namespaceSelector:
    {{- toYaml .Values.networkPolicy.metricsNamespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml .Values.networkPolicy.kafkaUiPodSelector | nindent 4 }}
{{- end }}

{{/*
Pod-level security context of every pod: the restricted Pod Security level. User 1000 is the
USER of the services' Dockerfiles and the appuser of the apache/kafka image.
*/}}
{{- define "backpressure-lab.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container-level security context of every container: no privilege escalation, no capabilities,
nothing written outside the emptyDirs a pod mounts.
*/}}
{{- define "backpressure-lab.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/*
The Node services' environment shared by all four: log level, V8 flags, malloc arenas, port, and
where traces go.
Call with (dict "root" $ "port" 8000).
*/}}
{{- define "backpressure-lab.commonEnv" -}}
- name: LOG_LEVEL
  value: {{ .root.Values.logLevel | quote }}
{{- with .root.Values.nodeOptions }}
- name: NODE_OPTIONS
  value: {{ . | quote }}
{{- end }}
- name: MALLOC_ARENA_MAX
  value: {{ .root.Values.mallocArenaMax | quote }}
- name: PORT
  value: {{ .port | quote }}
{{- if .root.Values.tracing.enabled }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .root.Values.tracing.otlpEndpoint | quote }}
{{- end }}
{{- end }}

{{/*
Rules that span two values, which values.schema.json cannot express. Rendered by
templates/validate.yaml, so `helm template`, `lint`, `install` and `upgrade` all stop on them.
*/}}
{{- define "backpressure-lab.validate" -}}
{{- $a := .Values.autoscaler -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- fail (printf "autoscaler.minReplicas (%d) must not exceed autoscaler.maxReplicas (%d)" (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{- end -}}
{{- $m := .Values.lagMonitor -}}
{{- if le (int $m.lagCritical) (int $m.lagWarning) -}}
{{- fail (printf "lagMonitor.lagCritical (%d) must be greater than lagMonitor.lagWarning (%d)" (int $m.lagCritical) (int $m.lagWarning)) -}}
{{- end -}}
{{- if and (eq .Values.kafka.provider "external") (not .Values.kafka.bootstrapServers) -}}
{{- fail "kafka.bootstrapServers is required when kafka.provider is external" -}}
{{- end -}}
{{- end }}
