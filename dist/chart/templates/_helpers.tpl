{{/*
The prefix of every object's name. A release named like the chart is not
repeated, so release "blueprint-operator" gives the names of the kustomize
install (config/default).
*/}}
{{- define "blueprint-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Selector labels, the same as the kustomize install's, so the metrics Service
selects the manager's pods either way.
*/}}
{{- define "blueprint-operator.selectorLabels" -}}
control-plane: controller-manager
app.kubernetes.io/name: blueprint-operator
{{- end }}

{{- define "blueprint-operator.labels" -}}
app.kubernetes.io/name: blueprint-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "blueprint-operator.serviceAccountName" -}}
{{ include "blueprint-operator.fullname" . }}-controller-manager
{{- end }}

{{/*
The rules controller-gen generates from the reconciler's RBAC markers
(config/rbac/role.yaml, copied by make manifests), for the ClusterRole or for
the Roles in watchNamespaces alike.
*/}}
{{- define "blueprint-operator.managerRules" -}}
{{ (.Files.Get "files/rbac/manager-role.yaml" | fromYaml).rules | toYaml }}
{{- end }}
