{{/* Names ------------------------------------------------------------------------------------------ */}}

{{- define "samx.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<part>"; call with (list $ "part") */}}
{{- define "samx.name" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "samx.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels: call with (list $ "component") */}}
{{- define "samx.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "samx.labels" -}}
{{- $root := index . 0 -}}
{{ include "samx.selectorLabels" . }}
app.kubernetes.io/part-of: samx
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version }}
{{- with $root.Values.global.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Images ----------------------------------------------------------------------------------------- */}}

{{/* A SAM-X image by its name (ingest, trainer, ...): call with (list $ "ingest") */}}
{{- define "samx.image" -}}
{{- $root := index . 0 -}}
{{- $g := $root.Values.global.image -}}
{{- $repo := printf "%s/%s" $g.repository (index . 1) -}}
{{- if $g.registry }}{{ $repo = printf "%s/%s" $g.registry $repo }}{{ end -}}
{{- printf "%s:%s" $repo (default $root.Chart.AppVersion $g.tag) -}}
{{- end -}}

{{/* Security ----------------------------------------------------------------------------------------- */}}

{{/* Pod securityContext; call with (list uid) or (list uid gid): the Ray images' user is 1000:100 */}}
{{- define "samx.podSecurityContext" -}}
{{- $gid := index . 0 }}{{ if gt (len .) 1 }}{{ $gid = index . 1 }}{{ end -}}
runAsNonRoot: true
runAsUser: {{ index . 0 }}
runAsGroup: {{ $gid }}
fsGroup: {{ $gid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "samx.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Backing services: environment ---------------------------------------------------------------- */}}

{{- define "samx.kafka.bootstrap" -}}
{{- if .Values.kafka.dev.enabled -}}
{{- printf "%s:9092" (include "samx.name" (list . "kafka")) -}}
{{- else -}}
{{- required "kafka.external.bootstrapServers is required when kafka.dev.enabled is false" .Values.kafka.external.bootstrapServers -}}
{{- end -}}
{{- end -}}

{{- define "samx.s3.endpoint" -}}
{{- if .Values.minio.dev.enabled -}}
{{- printf "%s:9000" (include "samx.name" (list . "minio")) -}}
{{- else -}}
{{- required "s3.external.endpoint is required when minio.dev.enabled is false" .Values.s3.external.endpoint -}}
{{- end -}}
{{- end -}}

{{- define "samx.env.kafka" -}}
{{- $k := .Values.kafka -}}
- name: SAMX_KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "samx.kafka.bootstrap" . | quote }}
- name: SAMX_KAFKA_TOPIC_NAMESPACE
  value: {{ $k.topicNamespace | quote }}
- name: SAMX_KAFKA_TOPIC_PARTITIONS
  value: {{ $k.topics.partitions | quote }}
- name: SAMX_KAFKA_TOPIC_REPLICATION
  value: {{ $k.topics.replication | quote }}
{{- if not $k.dev.enabled }}
- name: SAMX_KAFKA_SECURITY_PROTOCOL
  value: {{ $k.external.securityProtocol | quote }}
{{- if $k.external.sasl.mechanism }}
- name: SAMX_KAFKA_SASL_MECHANISM
  value: {{ $k.external.sasl.mechanism | quote }}
- name: SAMX_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.external.sasl.existingSecret is required with a SASL mechanism" $k.external.sasl.existingSecret }}
      key: {{ $k.external.sasl.usernameKey }}
- name: SAMX_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $k.external.sasl.existingSecret }}
      key: {{ $k.external.sasl.passwordKey }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "samx.env.s3" -}}
{{- $s := .Values.s3 -}}
- name: SAMX_S3_ENDPOINT
  value: {{ include "samx.s3.endpoint" . | quote }}
- name: SAMX_S3_SECURE
  value: {{ ternary "false" ($s.external.secure | toString) .Values.minio.dev.enabled | quote }}
{{- if and (not .Values.minio.dev.enabled) $s.external.region }}
- name: SAMX_S3_REGION
  value: {{ $s.external.region | quote }}
{{- end }}
- name: SAMX_S3_INCOMING_BUCKET
  value: {{ $s.buckets.incoming | quote }}
- name: SAMX_S3_ARCHIVE_BUCKET
  value: {{ $s.buckets.archive | quote }}
- name: SAMX_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $s.existingSecret }}
      key: {{ $s.existingSecretKeys.accessKey }}
- name: SAMX_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $s.existingSecret }}
      key: {{ $s.existingSecretKeys.secretKey }}
{{- end -}}

{{- define "samx.env.telemetry" -}}
- name: SAMX_OTEL_LOG_LEVEL
  value: {{ .Values.telemetry.logLevel | quote }}
{{- with .Values.telemetry.otlpEndpoint }}
- name: SAMX_OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Backing services: egress rules; call with (list $ uses) ------------------------------------ */}}

{{- define "samx.egress.rules" -}}
{{- $root := index . 0 -}}
{{- $uses := index . 1 -}}
{{- $v := $root.Values -}}
- to:
    - namespaceSelector:
        matchLabels: {{- toYaml $v.networkPolicy.dns.namespaceSelector | nindent 10 }}
      podSelector:
        matchLabels: {{- toYaml $v.networkPolicy.dns.podSelector | nindent 10 }}
  ports:
    - { port: 53, protocol: UDP }
    - { port: 53, protocol: TCP }
{{- if has "kafka" $uses }}
{{- if $v.kafka.dev.enabled }}
- to:
    - podSelector:
        matchLabels: {{- include "samx.selectorLabels" (list $root "kafka") | nindent 10 }}
  ports:
    - { port: 9092, protocol: TCP }
{{- else }}
{{- include "samx.egress.external" $v.kafka.external.egress }}
{{- end }}
{{- end }}
{{- if has "s3" $uses }}
{{- if $v.minio.dev.enabled }}
- to:
    - podSelector:
        matchLabels: {{- include "samx.selectorLabels" (list $root "minio") | nindent 10 }}
  ports:
    - { port: 9000, protocol: TCP }
{{- else }}
{{- include "samx.egress.external" $v.s3.external.egress }}
{{- end }}
{{- end }}
{{- if has "postgres" $uses }}
{{- if $v.postgresql.dev.enabled }}
- to:
    - podSelector:
        matchLabels: {{- include "samx.selectorLabels" (list $root "postgresql") | nindent 10 }}
  ports:
    - { port: 5432, protocol: TCP }
{{- else }}
{{- include "samx.egress.external" $v.postgresql.external.egress }}
{{- end }}
{{- end }}
{{- if has "kubernetes-api" $uses }}
{{- include "samx.egress.external" $v.networkPolicy.kubernetesApi }}
{{- end }}
{{- if and (has "telemetry" $uses) $v.telemetry.otlpEndpoint $v.telemetry.egress.cidrs }}
{{- include "samx.egress.external" $v.telemetry.egress }}
{{- end }}
{{- end -}}

{{- define "samx.egress.external" }}
- to:
  {{- range .cidrs }}
    - ipBlock: { cidr: {{ . | quote }} }
  {{- end }}
  ports:
  {{- range .ports }}
    - { port: {{ . }}, protocol: TCP }
  {{- end }}
{{- end -}}

{{/* Common pod volumes: a writable /tmp on a read-only root file system */}}
{{- define "samx.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 512Mi
{{- end -}}

{{/* Pod labels that the dev Kafka/MinIO NetworkPolicies admit: samx.io/uses-<service>: "true" */}}
{{- define "samx.usesLabels" -}}
{{- range . }}
samx.io/uses-{{ . }}: "true"
{{- end }}
{{- end -}}
