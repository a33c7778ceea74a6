{{/* KubeRay (ray.io/v1) parts: the Ray cluster spec shared by the serving RayService and the phase 1/2
RayJob templates, and the serve config. Pods get the same security contexts, ServiceAccounts and labels
as every other component; their images derive from rayproject/ray (user 1000:100) with SAM-X baked in,
so nothing is installed at start (no runtimeEnv). ------------------------------------------------ */}}

{{/* The pod template of one Ray group; call with (dict "root" $ "component" name "spec" spec
"group" group "head" bool "serve" bool). spec: image, uses, env, talksTo, secretFiles; group:
resources, gpu, shmSize, tmpSize. */}}
{{- define "samx.ray.podTemplate" -}}
{{- $root := .root -}}
{{- $spec := .spec -}}
{{- $group := .group -}}
{{- $useGpu := and $group.gpu $root.Values.gpu.enabled -}}
metadata:
  labels: {{- include "samx.labels" (list $root .component) | nindent 4 }}
    {{- include "samx.usesLabels" $spec.uses | nindent 4 }}
spec:
  serviceAccountName: {{ include "samx.name" (list $root .component) }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  securityContext: {{- include "samx.podSecurityContext" (list 1000 100) | nindent 4 }}
  {{- with $root.Values.global.imagePullSecrets }}
  imagePullSecrets: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with include "samx.scheduling" (list $root $group.nodeSelector $group.tolerations $useGpu) | trim }}
  {{- . | nindent 2 }}
  {{- end }}
  containers:
    - name: {{ ternary "ray-head" "ray-worker" .head }}
      image: {{ include "samx.image" (list $root $spec.image) }}
      imagePullPolicy: {{ $root.Values.global.image.pullPolicy }}
      {{- if or .head .serve }}
      ports:
        {{- if .head }}
        - { name: gcs, containerPort: 6379, protocol: TCP }
        - { name: dashboard, containerPort: 8265, protocol: TCP }
        - { name: client, containerPort: 10001, protocol: TCP }
        {{- end }}
        {{- if .serve }}
        - { name: serve, containerPort: 8000, protocol: TCP }
        {{- end }}
      {{- end }}
      env: {{- include "samx.component.env" (list $root $spec) | trim | nindent 8 }}
      resources: {{- include "samx.resources" (list $root $group.resources $useGpu) | nindent 8 }}
      securityContext: {{- include "samx.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        # Ray writes its session (logs, sockets, spilled objects) under /tmp/ray
        - { name: tmp, mountPath: /tmp }
        - { name: dshm, mountPath: /dev/shm }
        {{- range $spec.secretFiles }}
        - { name: secret-{{ .name }}, mountPath: {{ .mountPath }}, readOnly: true }
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $group.tmpSize | default "8Gi" }}
    # the object store's shared memory (Docker's 64 MiB default is far too small)
    - name: dshm
      emptyDir:
        medium: Memory
        sizeLimit: {{ $group.shmSize | default "2Gi" }}
    {{- range $spec.secretFiles }}
    - name: secret-{{ .name }}
      secret:
        secretName: {{ .secretName }}
        defaultMode: 0440
        items:
          - { key: {{ .key | quote }}, path: {{ .key | quote }} }
    {{- end }}
{{- end -}}

{{/* A RayCluster spec; call with (dict "root" $ "component" name "spec" spec "head" headGroup
"serve" bool). headGroup: resources, rayStartParams; spec.workerGroups: name, gpu, replicas,
minReplicas, maxReplicas, resources, shmSize. Fixed-size groups: the KubeRay autoscaler would need a
token and RBAC on the head pod, which the chart grants to no Ray pod. */}}
{{- define "samx.ray.clusterSpec" -}}
{{- $root := .root -}}
{{- $ctx := . -}}
rayVersion: {{ $root.Values.kuberay.rayVersion | quote }}
enableInTreeAutoscaling: false
headGroupSpec:
  rayStartParams: {{- toYaml (merge (dict "dashboard-host" "0.0.0.0") (.head.rayStartParams | default dict)) | nindent 4 }}
  template: {{- include "samx.ray.podTemplate" (dict "root" $root "component" .component "spec" .spec "group" .head "head" true "serve" .serve) | nindent 4 }}
workerGroupSpecs:
  {{- range .spec.workerGroups }}
  - groupName: {{ .name }}
    replicas: {{ .replicas }}
    minReplicas: {{ .minReplicas }}
    maxReplicas: {{ .maxReplicas }}
    rayStartParams: {{- toYaml (.rayStartParams | default dict) | nindent 6 }}
    template: {{- include "samx.ray.podTemplate" (dict "root" $root "component" $ctx.component "spec" $ctx.spec "group" . "head" false "serve" $ctx.serve) | nindent 6 }}
  {{- end }}
{{- end -}}

{{/* serveConfigV2 of the serving RayService; call with (list $ component). Deployment options here
override the code's; a replica gets its GPUs only where the cluster's gpu block is on. */}}
{{- define "samx.ray.serveConfig" -}}
{{- $root := index . 0 -}}
{{- $s := (index . 1).ray.serve -}}
{{- $deployments := list -}}
{{- range $s.deployments }}
{{- $options := dict "num_cpus" .numCpus "num_gpus" (ternary .numGpus 0 $root.Values.gpu.enabled) -}}
{{- $d := dict "name" .name "ray_actor_options" $options -}}
{{- with .autoscaling }}
{{- $_ := set $d "autoscaling_config" (dict "min_replicas" .minReplicas "max_replicas" .maxReplicas "target_ongoing_requests" .targetOngoingRequests) }}
{{- else }}
{{- $_ := set $d "num_replicas" .numReplicas }}
{{- end }}
{{- $deployments = append $deployments $d -}}
{{- end -}}
{{- $app := dict "name" $s.applicationName "import_path" $s.importPath "route_prefix" $s.routePrefix "args" ($s.args | default dict) "deployments" $deployments -}}
{{- /* Serve's own tracing, as samx_serving.app.serve_tracing_config sets it locally: the proxy and every
replica make spans and export them like the other services (the exporter reads SAMX_OTEL_*). */ -}}
{{- $tracing := dict "enabled" true "exporter_import_path" "samx_core.telemetry:ray_serve_span_processors" "sampling_ratio" 1.0 -}}
{{- toYaml (dict "http_options" (dict "host" "0.0.0.0" "port" 8000) "tracing_config" $tracing "applications" (list $app)) -}}
{{- end -}}

{{/* One phase's RayJob, as the trainer-launcher submits it (it sets metadata.name and appends the run's
arguments to spec.entrypoint); call with (list $ launcherName launcher phase). */}}
{{- define "samx.ray.rayJob" -}}
{{- $root := index . 0 -}}
{{- $jobs := (index . 2).rayJobs -}}
{{- $phase := index . 3 -}}
{{- $component := $jobs.component | default "trainer" -}}
apiVersion: ray.io/v1
kind: RayJob
metadata:
  name: {{ include "samx.name" (list $root $phase) }}
  namespace: {{ $root.Release.Namespace }}
  labels: {{- include "samx.labels" (list $root $component) | nindent 4 }}
    samx.io/phase: {{ $phase }}
spec:
  entrypoint: {{ (index $jobs.phases $phase).entrypoint | quote }}
  submissionMode: K8sJobMode
  shutdownAfterJobFinishes: true
  ttlSecondsAfterFinished: {{ $jobs.ttlSecondsAfterFinished }}
  activeDeadlineSeconds: {{ $jobs.activeDeadlineSeconds }}
  backoffLimit: 0
  # the pod that runs `ray job submit` (KubeRay fills in its command): small, locked down like the rest
  submitterPodTemplate:
    metadata:
      labels: {{- include "samx.labels" (list $root $component) | nindent 8 }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "samx.name" (list $root $component) }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext: {{- include "samx.podSecurityContext" (list 1000 100) | nindent 8 }}
      {{- with $root.Values.global.imagePullSecrets }}
      imagePullSecrets: {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: ray-job-submitter
          image: {{ include "samx.image" (list $root $jobs.image) }}
          imagePullPolicy: {{ $root.Values.global.image.pullPolicy }}
          resources:
            requests: { cpu: 100m, memory: 256Mi }
            limits: { cpu: 500m, memory: 512Mi }
          securityContext: {{- include "samx.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - { name: tmp, mountPath: /tmp }
      volumes: {{- include "samx.tmpVolume" . | nindent 8 }}
  rayClusterSpec: {{- include "samx.ray.clusterSpec" (dict "root" $root "component" $component "spec" $jobs "head" $jobs.head "serve" false) | nindent 4 }}
{{- end -}}
