{{/* Helpers of templates/components.yaml shared by every workload kind (Deployment, RayService, the
RayJob templates): a component's environment, its peers, its NetworkPolicy. ---------------------- */}}

{{/* The labeling database: PostgreSQL, dev (in-chart) or external. The password stays in its Secret;
Kubernetes expands $(SAMX_DATABASE_PASSWORD) into the URL inside the pod, so no manifest holds it. */}}
{{- define "samx.postgres.host" -}}
{{- if .Values.postgresql.dev.enabled -}}
{{- include "samx.name" (list . "postgresql") -}}
{{- else -}}
{{- required "postgresql.external.host is required when postgresql.dev.enabled is false" .Values.postgresql.external.host -}}
{{- end -}}
{{- end -}}

{{- define "samx.env.postgres" -}}
{{- $p := .Values.postgresql -}}
{{- $port := ternary 5432 $p.external.port $p.dev.enabled -}}
{{- $url := printf "postgresql+psycopg://%s:$(SAMX_DATABASE_PASSWORD)@%s:%v/%s" $p.user (include "samx.postgres.host" .) $port $p.database -}}
{{- if not $p.dev.enabled }}{{ $url = printf "%s?sslmode=%s" $url $p.external.sslmode }}{{ end -}}
- name: SAMX_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $p.existingSecret }}
      key: {{ $p.passwordKey }}
# the labeling service's setting (only it uses PostgreSQL)
- name: SAMX_LABELING_DATABASE_URL
  value: {{ $url | quote }}
{{- end -}}

{{/* URL of another component on a port; call with (list $ "component" port). A RayService is reached
through the Serve Service KubeRay creates for it (<name>-serve-svc). */}}
{{- define "samx.componentUrl" -}}
{{- $root := index . 0 -}}
{{- $target := index $root.Values.components (index . 1) | default dict -}}
{{- $host := include "samx.name" (list $root (index . 1)) -}}
{{- if eq ($target.workload | default "Deployment") "RayService" }}{{ $host = printf "%s-serve-svc" $host }}{{ end -}}
{{- printf "http://%s:%v" $host (index . 2) -}}
{{- end -}}

{{/* The environment of a component's containers; call with (list $ spec). spec: uses, env, talksTo,
secretFiles (a component, or its rayJobs block). */}}
{{- define "samx.component.env" -}}
{{- $root := index . 0 -}}
{{- $c := index . 1 -}}
{{- if has "kafka" $c.uses }}
{{ include "samx.env.kafka" $root }}
{{- end }}
{{- if has "s3" $c.uses }}
{{ include "samx.env.s3" $root }}
{{- end }}
{{- if has "postgres" $c.uses }}
{{ include "samx.env.postgres" $root }}
{{- end }}
{{- if has "telemetry" $c.uses }}
{{ include "samx.env.telemetry" $root }}
{{- end }}
{{- range $c.talksTo }}
- name: {{ .env }}
  value: {{ include "samx.componentUrl" (list $root .component .port) | quote }}
{{- end }}
{{- range $c.secretFiles }}
- name: {{ .env }}
  value: {{ printf "%s/%s" .mountPath .key | quote }}
{{- end }}
{{- range $k, $v := $c.env }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* Container resources with the shared GPU added when the component (or Ray group) asks for one and
the cluster's gpu block is on; call with (list $ resources useGpu) */}}
{{- define "samx.resources" -}}
{{- $root := index . 0 -}}
{{- $resources := deepCopy (index . 1) -}}
{{- if index . 2 }}
{{- $count := $root.Values.gpu.count | toString }}
{{- $_ := set $resources "limits" (merge (dict $root.Values.gpu.resourceName $count) ($resources.limits | default dict)) }}
{{- $_ := set $resources "requests" (merge (dict $root.Values.gpu.resourceName $count) ($resources.requests | default dict)) }}
{{- end -}}
{{- toYaml $resources -}}
{{- end -}}

{{/* GPU scheduling of a pod spec (runtime class, node selector, tolerations); call with
(list $ nodeSelector tolerations useGpu) */}}
{{- define "samx.scheduling" -}}
{{- $root := index . 0 -}}
{{- $useGpu := index . 3 -}}
{{- $nodeSelector := index . 1 | default dict -}}
{{- $tolerations := index . 2 | default list -}}
{{- if $useGpu }}
{{- $nodeSelector = merge (deepCopy $nodeSelector) $root.Values.gpu.nodeSelector }}
{{- $tolerations = concat $tolerations $root.Values.gpu.tolerations }}
{{- with $root.Values.gpu.runtimeClassName }}
runtimeClassName: {{ . }}
{{- end }}
{{- end }}
{{- with $nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A NetworkPolicy (Ingress and Egress) for the pods of one component; call with
(dict "root" $ "name" component "spec" spec "ray" bool). Ray pods talk to each other on any port (GCS,
object store, workers), and the KubeRay operator reaches the head's dashboard and Serve ports. */}}
{{- define "samx.networkPolicy" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $c := .spec -}}
{{- $self := include "samx.selectorLabels" (list $root $name) -}}
{{- $callers := list -}}
{{- range $other, $oc := $root.Values.components }}
{{- if $oc.enabled }}{{ range $oc.talksTo }}{{ if eq .component $name }}{{ $callers = append $callers (dict "name" $other "port" .port) }}{{ end }}{{ end }}{{ end }}
{{- end }}
{{- $metrics := and $c.metrics $root.Values.networkPolicy.metricsFrom }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "samx.name" (list $root $name) }}
  namespace: {{ $root.Release.Namespace }}
  labels: {{- include "samx.labels" (list $root $name) | nindent 4 }}
spec:
  podSelector:
    matchLabels: {{- $self | nindent 6 }}
  policyTypes: [Ingress, Egress]
  {{- if or $c.networkPolicy.ingress $metrics $callers .ray }}
  ingress:
    {{- range $c.networkPolicy.ingress }}
    - ports:
        - { port: {{ .port }}, protocol: TCP }
      from: {{- toYaml .from | nindent 8 }}
    {{- end }}
    {{- if $metrics }}
    - ports:
        - { port: {{ $c.metrics.port }}, protocol: TCP }
      from: {{- toYaml $root.Values.networkPolicy.metricsFrom | nindent 8 }}
    {{- end }}
    {{- range $callers }}
    - ports:
        - { port: {{ .port }}, protocol: TCP }
      from:
        - podSelector:
            matchLabels: {{- include "samx.selectorLabels" (list $root .name) | nindent 14 }}
    {{- end }}
    {{- if .ray }}
    - from:
        - podSelector:
            matchLabels: {{- $self | nindent 14 }}
    - ports:
        - { port: 8265, protocol: TCP }
        - { port: 8000, protocol: TCP }
      from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ $root.Values.kuberay.operatorNamespace }}
    {{- end }}
  {{- else }}
  ingress: []
  {{- end }}
  egress:
    {{- include "samx.egress.rules" (list $root $c.uses) | nindent 4 }}
    {{- range $c.talksTo }}
    - to:
        - podSelector:
            matchLabels: {{- include "samx.selectorLabels" (list $root .component) | nindent 14 }}
      ports:
        - { port: {{ .port }}, protocol: TCP }
    {{- end }}
    {{- if .ray }}
    - to:
        - podSelector:
            matchLabels: {{- $self | nindent 14 }}
    {{- end }}
{{- end -}}

{{/* Volume mounts of a Deployment's containers: /tmp, the Secret files, the launcher's RayJob templates */}}
{{- define "samx.component.mounts" -}}
- name: tmp
  mountPath: /tmp
{{- range .secretFiles }}
- name: secret-{{ .name }}
  mountPath: {{ .mountPath }}
  readOnly: true
{{- end }}
{{- if .rayJobs }}
- name: launcher
  mountPath: /etc/samx/launcher
  readOnly: true
{{- end }}
{{- end -}}

{{/* The launcher's ConfigMap data: one RayJob template per phase (its code is samx_trainer.launch, in the
image); call with (list $ name component) */}}
{{- define "samx.launcherFiles" -}}
{{- $root := index . 0 -}}
{{- $c := index . 2 -}}
{{- range $phase, $_ := $c.rayJobs.phases }}
{{ $phase }}.yaml: |
{{- include "samx.ray.rayJob" (list $root (index $ 1) $c $phase) | nindent 2 }}
{{- end }}
{{- end -}}
