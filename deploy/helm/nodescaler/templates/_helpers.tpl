{{/* Names and labels shared by the templates. Only include, toYaml, required and
     sprig functions are used, so that the test's renderer (Go text/template + sprig)
     renders the chart as Helm does. */}}

{{- define "nodescaler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nodescaler.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "nodescaler.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "nodescaler.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nodescaler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nodescaler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nodescaler.labels" -}}
{{ include "nodescaler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "nodescaler.serviceAccountName" -}}
{{- if .Values.rbac.serviceAccount.create -}}
{{- default (include "nodescaler.fullname" .) .Values.rbac.serviceAccount.name -}}
{{- else -}}
{{- required "rbac.serviceAccount.name is required when rbac.serviceAccount.create is false" .Values.rbac.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The names nodescaler uses in its namespace, following extraArgs when they rename them. */}}
{{- define "nodescaler.leaseName" -}}
{{- index .Values.extraArgs "leader-elect-resource-name" | default "cluster-autoscaler" -}}
{{- end -}}
{{- define "nodescaler.statusName" -}}
{{- index .Values.extraArgs "status-config-map-name" | default "cluster-autoscaler-status" -}}
{{- end -}}
