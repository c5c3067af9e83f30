{{- /*
"type" renders the section of one type of the API package.
Argument: dict "t" *types.Type, "gv" types.GroupVersionDetails, "pkg" the
package path of the API types.
types.Kind values: 0 alias, 1 basic, 2 interface, 3 map, 4 pointer, 5 slice,
6 struct.
*/ -}}
{{- define "type" -}}
{{- $t := .t -}}{{- $gv := .gv -}}{{- $pkg := .pkg -}}
{{- $xv := "kubebuilder:validation:XValidation" -}}
{{- $anchor := printf "#%s-rules" (lower $t.Name) -}}
{{- $isStruct := eq $t.Kind 6 -}}
{{- $isList := and $t.GVK (hasSuffix "List" $t.Name) -}}
{{- /* Whether the type itself carries validation (the fields' own is in their rows). */ -}}
{{- $constrained := false -}}
{{- range $k, $_ := $t.Markers }}{{ if or (hasPrefix "kubebuilder:validation:" $k) (eq $k "listType") }}{{ $constrained = true }}{{ end }}{{ end -}}
## {{ $t.Name }}
{{- if $t.Doc }}

{{ template "text" $t.Doc }}
{{- end }}
{{- if $t.GVK }}

`apiVersion: {{ $t.GVK.Group }}/{{ $t.GVK.Version }}`, `kind: {{ $t.GVK.Kind }}`
{{- if not $isList -}}
{{- $res := index $t.Markers "kubebuilder:resource" -}}
{{- $res = and $res (last $res) -}}
{{- if and $res (eq $res.Scope "Cluster") }}; cluster-scoped{{ else }}; namespaced{{ end -}}
{{- if and $res $res.Path }}; plural `{{ $res.Path }}`{{ end -}}
{{- if and $res $res.ShortName }}; short name{{ if gt (len $res.ShortName) 1 }}s{{ end }} {{ range $i, $s := $res.ShortName }}{{ if $i }}, {{ end }}`{{ $s }}`{{ end }}{{ end -}}
{{- if and $res $res.Categories }}; categor{{ if gt (len $res.Categories) 1 }}ies{{ else }}y{{ end }} {{ range $i, $s := $res.Categories }}{{ if $i }}, {{ end }}`{{ $s }}`{{ end }}{{ end -}}
{{- if index $t.Markers "kubebuilder:subresource:status" }}; `status` is a subresource: applying or editing the object never changes it{{ end -}}
{{- if index $t.Markers "kubebuilder:subresource:scale" }}; has the `scale` subresource{{ end -}}
{{- end -}}.
{{- with index $t.Markers "kubebuilder:printcolumn" }}

`kubectl get` columns after `NAME`:

| Column | JSONPath | Description |
|---|---|---|
{{- range . }}
| {{ upper .Name }}{{ if gt .Priority 0 }} (with `-o wide`){{ end }} | {{ template "code" (dict "s" .JSONPath "cell" true) }} | {{ template "cell" .Description }} |
{{- end }}
{{- end }}
{{- end }}
{{- if $isStruct }}
{{- if $constrained }}

Validated as a whole: {{ template "constraints" (dict "m" $t.Markers "sep" "; " "cell" false "anchor" $anchor "plural" true) }}.
{{- end }}
{{- if $t.Members }}

| Field | Type | Required | Default | Validation | Description |
|---|---|---|---|---|---|
{{- if $t.GVK }}
| `apiVersion` | string | required |  |  | `{{ $t.GVK.Group }}/{{ $t.GVK.Version }}` |
| `kind` | string | required |  |  | `{{ $t.GVK.Kind }}` |
{{- end }}
{{- range $t.Members }}
{{- $doc := .Doc -}}
{{- if and (not $doc) (eq .Name "metadata") }}{{ $doc = ternary "Standard list metadata." "Standard object metadata: name, namespace, labels, annotations." $isList }}{{ end }}
| `{{ .Name }}` | {{ template "typeRef" (dict "t" .Type "pkg" $pkg) }} | {{ template "required" (dict "f" . "t" $t "gv" $gv "isList" $isList) }} | {{ template "default" .Markers }} | {{ template "constraints" (dict "m" .Markers "ft" .Type "sep" "<br>" "cell" true "anchor" $anchor) }} | {{ template "cell" $doc }} |
{{- end }}
{{- end }}
{{- else }}
{{- if $t.UnderlyingType }}

Type: {{ template "typeRef" (dict "t" $t.UnderlyingType "pkg" $pkg) }}
{{- $c := dict "m" $t.Markers "sep" "; " "cell" false "anchor" $anchor "plural" true -}}
{{- if $constrained }}. Validation: {{ template "constraints" $c }}{{ end }}.
{{- end }}
{{- if $t.EnumValues }}

| Value | Meaning |
|---|---|
{{- range $t.EnumValues }}
| `{{ .Name }}` | {{ template "cell" .Doc }} |
{{- end }}
{{- end }}
{{- end }}
{{- with $t.SortedReferences }}

Used by {{ range $i, $r := . }}{{ if $i }}, {{ end }}[{{ $r.Name }}](#{{ lower $r.Name }}){{ end }}.
{{- end }}
{{- template "rules" (dict "t" $t "isStruct" $isStruct) }}
{{- end -}}
