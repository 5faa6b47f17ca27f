{{/*
The chart's name (nameOverride wins), cut to 63 characters: Kubernetes names and label values
must not be longer.
*/}}
{{- define "mc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, else <release>-<name>, or just the release
name when it already contains the chart's name ("mc" stays "mc", not "mc-mc"). Cut to 63
characters, without a dangling "-".
*/}}
{{- define "mc.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label ("+" is not allowed in label values).
*/}}
{{- define "mc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object of the chart.
*/}}
{{- define "mc.labels" -}}
helm.sh/chart: {{ include "mc.chart" . }}
{{ include "mc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: maestro-conductor
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The labels the Deployment selects its pods by and the Service its endpoints by. They must not
change between upgrades (a Deployment's selector is immutable), so no version in them.
*/}}
{{- define "mc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount mc-operator runs as: the chart's own when it creates one, else the one named
(or "default", as Kubernetes would pick).
*/}}
{{- define "mc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The rules of MC's workload Role/ClusterRole: what the reconcilers read and write, nothing more.
docs/chart.md says why each is needed. The Lease rule is not here: it lives in a Role of the
release namespace only (rbac.yaml). Secrets only when analysis.secretNames or
verification.secretNames list some: get by those names only, for the Prometheus credentials of
AnalysisRuns, and the public keys and pull credentials that image verification reads.
*/}}
{{- define "mc.workloadRules" -}}
- apiGroups: ["mc.maestro.dev"]
  resources: ["rollouts"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["mc.maestro.dev"]
  resources: ["rollouts/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["mc.maestro.dev"]
  resources: ["rollouts/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["mc.maestro.dev"]
  resources: ["analysistemplates"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["mc.maestro.dev"]
  resources: ["analysisruns"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["mc.maestro.dev"]
  resources: ["analysisruns/status"]
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["mc.maestro.dev"]
  resources: ["auditrecords"]
  {{- if .Values.audit.retention.enabled }}
  verbs: ["get", "list", "create", "delete"]
  {{- else }}
  verbs: ["get", "list", "create"]
  {{- end }}
- apiGroups: ["mc.maestro.dev"]
  resources: ["auditchains"]
  {{- if .Values.audit.retention.enabled }}
  verbs: ["get", "list", "watch", "create"]
  {{- else }}
  verbs: ["get", "create"]
  {{- end }}
- apiGroups: ["mc.maestro.dev"]
  resources: ["auditchains/status"]
  verbs: ["update"]
{{- if .Values.verification.enabled }}
- apiGroups: ["mc.maestro.dev"]
  resources: ["verificationpolicies"]
  verbs: ["get", "list", "watch"]
{{- end }}
{{- with concat .Values.analysis.secretNames (.Values.verification.enabled | ternary .Values.verification.secretNames list) }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
  resourceNames: {{ toJson (uniq .) }}
{{- end }}
{{- end }}

{{/*
ClusterAnalysisTemplates and ClusterVerificationPolicies are cluster-scoped, so a rule for them in
a namespaced Role would grant nothing: they are read (and only read) through a ClusterRole whatever
watchNamespaces says (rbac.yaml).
*/}}
{{- define "mc.clusterReadRules" -}}
- apiGroups: ["mc.maestro.dev"]
  {{- if .Values.verification.enabled }}
  resources: ["clusteranalysistemplates", "clusterverificationpolicies"]
  {{- else }}
  resources: ["clusteranalysistemplates"]
  {{- end }}
  verbs: ["get", "list", "watch"]
{{- end }}

{{/*
Name of the ClusterRole (and its binding) that reads the cluster-scoped ClusterAnalysisTemplates
and ClusterVerificationPolicies when watchNamespaces is set; the prefix is cut so the whole stays
within 63.
*/}}
{{- define "mc.clusterReadName" -}}
{{- printf "%s-cluster-read" (include "mc.fullname" . | trunc 50 | trimSuffix "-") }}
{{- end }}

{{/*
Labels of the CRDs: the chart's, without a component or an app version (a CRD serves whichever
version of MC runs).
*/}}
{{- define "mc.crdLabels" -}}
helm.sh/chart: {{ include "mc.chart" . }}
app.kubernetes.io/name: {{ include "mc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: maestro-conductor
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Name of the leader-election Role and RoleBinding; the prefix is cut so the whole stays within 63.
*/}}
{{- define "mc.leaderElectionName" -}}
{{- printf "%s-leader-election" (include "mc.fullname" . | trunc 47 | trimSuffix "-") }}
{{- end }}

{{/*
Name of the metrics Service (a DNS label: at most 63 characters).
*/}}
{{- define "mc.metricsServiceName" -}}
{{- printf "%s-metrics" (include "mc.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
The namespaces MC watches, as a binding's matchResources: all when watchNamespaces is empty.
*/}}
{{- define "mc.watchedNamespaces" -}}
{{- with .Values.watchNamespaces }}
matchResources:
  namespaceSelector:
    matchExpressions:
      - key: kubernetes.io/metadata.name
        operator: In
        values: {{ toJson (uniq .) }}
{{- end }}
{{- end }}
