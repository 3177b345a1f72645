{{- define "auditor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "auditor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "auditor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "auditor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "auditor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "auditor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "auditor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "auditor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "auditor.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* Checks across values that values.schema.json cannot express; they stop a broken install with the reason. */}}
{{- define "auditor.validate" -}}
{{- if and (eq .Values.mode "service") (gt (int .Values.replicaCount) 1) (not .Values.database.existingSecret) }}
{{- fail "replicaCount > 1 needs PostgreSQL (database.existingSecret): each replica would keep its own SQLite history and run every scheduled audit" }}
{{- end }}
{{- end }}

{{/* The pod spec of the Deployment (serve) and of the CronJob (audit): args are the container's arguments. */}}
{{- define "auditor.podSpec" -}}
{{- $root := .root -}}
serviceAccountName: {{ include "auditor.serviceAccountName" $root }}
automountServiceAccountToken: true
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
containers:
  - name: auditor
    image: {{ include "auditor.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args:
      {{- toYaml .args | nindent 6 }}
    env:
      - name: AUDITOR_LOG_FORMAT
        value: {{ $root.Values.logFormat | quote }}
      - name: AUDITOR_LOG_LEVEL
        value: {{ $root.Values.logLevel | quote }}
      - name: AUDITOR_API__HOST
        value: "0.0.0.0"
      - name: AUDITOR_API__PORT
        value: {{ $root.Values.api.port | quote }}
      - name: AUDITOR_API__METRICS_PUBLIC
        value: {{ $root.Values.api.metricsPublic | quote }}
      {{- if $root.Values.database.existingSecret }}
      - name: AUDITOR_DATABASE_URL
        valueFrom:
          secretKeyRef:
            name: {{ $root.Values.database.existingSecret }}
            key: {{ $root.Values.database.secretKey }}
      {{- else }}
      - name: AUDITOR_DATABASE_URL
        value: sqlite:////data/auditor.db
      {{- end }}
      {{- if $root.Values.webhook.existingSecret }}
      - name: AUDITOR_REPORTS__WEBHOOK_URL
        valueFrom:
          secretKeyRef:
            name: {{ $root.Values.webhook.existingSecret }}
            key: {{ $root.Values.webhook.secretKey }}
      {{- end }}
      {{- range $name, $value := $root.Values.env }}
      - name: {{ $name }}
        value: {{ $value | quote }}
      {{- end }}
    {{- with $root.Values.envFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if .serve }}
    ports:
      - name: http
        containerPort: {{ $root.Values.api.port }}
        protocol: TCP
    readinessProbe:
      httpGet: {path: /readyz, port: http}
      periodSeconds: 10
    livenessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 20
      failureThreshold: 3
    startupProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 5
      failureThreshold: 60
    {{- end }}
    resources:
      {{- toYaml $root.Values.resources | nindent 6 }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    volumeMounts:
      - name: targets
        mountPath: /etc/auditor
        readOnly: true
      - name: data
        mountPath: /data
      - name: tmp
        mountPath: /tmp
volumes:
  - name: targets
    configMap:
      name: {{ include "auditor.fullname" $root }}-targets
  - name: data
    {{- if $root.Values.persistence.existingClaim }}
    persistentVolumeClaim:
      claimName: {{ $root.Values.persistence.existingClaim }}
    {{- else }}
    emptyDir:
      sizeLimit: {{ $root.Values.persistence.sizeLimit }}
    {{- end }}
  - name: tmp
    emptyDir:
      sizeLimit: {{ $root.Values.tmpSizeLimit }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
