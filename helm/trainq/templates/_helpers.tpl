{{/* Names. Cluster-scoped objects carry the release namespace too: two releases must not clash. */}}
{{- define "trainq.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "trainq.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains (include "trainq.name" .) .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "trainq.name" .) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "trainq.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "trainq.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "trainq.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trainq.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "trainq.labels" -}}
{{ include "trainq.selectorLabels" . }}
app.kubernetes.io/part-of: trainq
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.labels + annotations for an object of one component: (dict "ctx" $ "component" "api") */}}
{{- define "trainq.metadata" -}}
labels:
  {{- include "trainq.labels" .ctx | nindent 2 }}
  {{- if .component }}
  app.kubernetes.io/component: {{ .component }}
  {{- end }}
{{- with .ctx.Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "trainq.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* A team's backend, as trainq's config spells it: its own, else the chart-wide default.
     (dict "ctx" $ "team" $t) */}}
{{- define "trainq.teamBackend" -}}
{{- .team.backend | default .ctx.Values.backend | default "pytorchjob" -}}
{{- end -}}

{{/* "true" when some team runs its jobs as TrainJobs (Trainer v2), else "". */}}
{{- define "trainq.trainjobEnabled" -}}
{{- $on := "" -}}
{{- range $t := .Values.teams -}}
{{- if eq (include "trainq.teamBackend" (dict "ctx" $ "team" $t)) "trainjob" }}{{ $on = "true" }}{{ end -}}
{{- end -}}
{{- $on -}}
{{- end -}}

{{- define "trainq.tokensSecret" -}}
{{- .Values.tokens.existingSecret | default (printf "%s-tokens" (include "trainq.fullname" .)) -}}
{{- end -}}

{{- define "trainq.redisSecret" -}}
{{- if .Values.redis.bundled -}}
{{- printf "%s-redis" (include "trainq.fullname" .) -}}
{{- else -}}
{{- .Values.redis.external.existingSecret | default (printf "%s-redis" (include "trainq.fullname" .)) -}}
{{- end -}}
{{- end -}}

{{/* Quantity -> its value in milli-units, as a float ("1.5Gi" -> 1610612736000). */}}
{{- define "trainq.milli" -}}
{{- $q := toString . -}}
{{- $num := regexFind "^[0-9]*\\.?[0-9]+" $q -}}
{{- $suffix := trimPrefix $num $q -}}
{{- $mult := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 -}}
{{- if not (hasKey $mult $suffix) -}}
{{- fail (printf "%q is not a quantity this chart can add (use plain numbers, m, k/M/G/T/P or Ki/Mi/Gi/Ti/Pi)" $q) -}}
{{- end -}}
{{- mulf (float64 $num) (get $mult $suffix) 1000.0 -}}
{{- end -}}

{{/* quota + borrowing limit of one resource, as a quantity: (list quota borrow) */}}
{{- define "trainq.addQuantities" -}}
{{- $a := index . 0 -}}
{{- $b := index . 1 -}}
{{- if $b -}}
{{- $sum := addf (include "trainq.milli" $a | float64) (include "trainq.milli" $b | float64) -}}
{{- if eq (mod (int64 $sum) 1000) 0 -}}
{{- printf "%.0f" (divf $sum 1000.0) -}}
{{- else -}}
{{- printf "%.0fm" $sum -}}
{{- end -}}
{{- else -}}
{{- toString $a -}}
{{- end -}}
{{- end -}}

{{/* Pod spec pieces shared by trainq's three components. */}}
{{- define "trainq.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "trainq.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "trainq.env" -}}
- name: TRAINQ_CONFIG
  value: /etc/trainq/config.yaml
{{- /* The URL carries the Redis password: always from a Secret (templates/redis.yaml). */}}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "trainq.redisSecret" . }}
      key: {{ .Values.redis.bundled | ternary "url" .Values.redis.external.existingSecretKey }}
{{- with .Values.redis.sentinel }}{{ if and .enabled $.Values.redis.bundled }}
{{- /* Sentinel mode: the primary is asked of the sentinels; submissions WAIT for replicas. */}}
- name: REDIS_SENTINELS
  value: {{ include "trainq.redisSentinels" $ | quote }}
- name: REDIS_SENTINEL_MASTER
  value: {{ .masterName | quote }}
- name: REDIS_MIN_REPLICAS_ACKED
  value: {{ .minReplicasAcked | quote }}
- name: REDIS_ACK_TIMEOUT_MS
  value: {{ .ackTimeoutMs | quote }}
{{- end }}{{ end }}
{{- end -}}

{{/* host:port of every bundled sentinel (one per Redis pod), comma-separated. */}}
{{- define "trainq.redisSentinels" -}}
{{- $fullname := include "trainq.fullname" . -}}
{{- $out := list -}}
{{- range $i := until (int .Values.redis.sentinel.replicas) -}}
{{- $out = append $out (printf "%s-redis-%d.%s-redis-headless.%s.svc:26379" $fullname $i $fullname $.Release.Namespace) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* Shell: sets $me (this pod's DNS name) and $primary (what a sentinel names, else pod 0). */}}
{{- define "trainq.redisPrimary" -}}
{{- $fullname := include "trainq.fullname" . -}}
me="$(hostname).{{ $fullname }}-redis-headless.{{ .Release.Namespace }}.svc"
primary=""
for s in $(echo "{{ include "trainq.redisSentinels" . }}" | tr , ' '); do
  primary="$(redis-cli -h "${s%:*}" -p 26379 --raw sentinel get-master-addr-by-name {{ .Values.redis.sentinel.masterName }} 2>/dev/null | head -n1)" || true
  case "$primary" in *[!A-Za-z0-9.-]*) primary="" ;; esac  # an error, not a host name
  [ -n "$primary" ] && break
done
[ -n "$primary" ] || primary="{{ $fullname }}-redis-0.{{ $fullname }}-redis-headless.{{ .Release.Namespace }}.svc"
{{- end -}}

{{/* The init container writing TRAINQ_CONFIG from the ConfigMap and the token Secret. */}}
{{- define "trainq.configInit" -}}
- name: config
  image: {{ include "trainq.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: [python, /etc/trainq-source/config/assemble-config.py,
            /etc/trainq-source/config/config.yaml, /etc/trainq-source/tokens, /etc/trainq/config.yaml]
  securityContext:
    {{- include "trainq.containerSecurityContext" . | nindent 4 }}
  resources:
    requests: {cpu: 10m, memory: 64Mi}
    limits: {cpu: 200m, memory: 128Mi}
  volumeMounts:
    - {name: config-source, mountPath: /etc/trainq-source/config, readOnly: true}
    - {name: tokens, mountPath: /etc/trainq-source/tokens, readOnly: true}
    - {name: config, mountPath: /etc/trainq}
{{- end -}}

{{- define "trainq.volumes" -}}
- name: config-source
  configMap:
    name: {{ include "trainq.fullname" . }}-config
- name: tokens
  secret:
    secretName: {{ include "trainq.tokensSecret" . }}
- name: config
  emptyDir: {sizeLimit: 1Mi}
- name: tmp
  emptyDir: {sizeLimit: 64Mi}
{{- end -}}

{{- define "trainq.volumeMounts" -}}
- {name: config, mountPath: /etc/trainq, readOnly: true}
- {name: tmp, mountPath: /tmp}
{{- end -}}

{{/* Checksum of everything the config is made from: pods restart when it changes. */}}
{{- define "trainq.configChecksum" -}}
{{- list .Values.instance .Values.teams .Values.backend .Values.trainjobRuntime .Values.adminTokenSha256 .Values.tokens .Values.config | toJson | sha256sum -}}
{{- end -}}

{{- define "trainq.podAnnotations" -}}
checksum/config: {{ include "trainq.configChecksum" . }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "trainq.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
