{{- /* Markdown escaping. */ -}}

{{- /* "text": a doc comment as a paragraph. `\<` keeps `$<secret:...>` from being read as an autolink or HTML. */ -}}
{{- define "text" -}}
{{- . | toString | trim | replace "<" "\\<" -}}
{{- end -}}

{{- /* "cell": a doc comment in a table cell: one line, paragraphs kept, | escaped. */ -}}
{{- define "cell" -}}
{{- $s := . | toString | trim | replace "<" "\\<" | replace "|" "\\|" -}}
{{- $s = regexReplaceAll "\\n[ \\t]*\\n\\s*" $s "<br><br>" -}}
{{- replace "\n" " " $s -}}
{{- end -}}

{{- /* "code": dict "s" text, "cell" whether it is in a table cell (| must then be escaped, even in code). */ -}}
{{- define "code" -}}
{{- $s := .s | toString | replace "\n" " " -}}
{{- if .cell }}{{ $s = replace "|" "\\|" $s }}{{ end -}}
{{- if contains "`" $s }}`` {{ $s }} ``{{ else }}`{{ $s }}`{{ end -}}
{{- end -}}

{{- /*
"typeRef": how a field's type is written. Argument: dict "t" *types.Type,
"pkg" the API package path. Types of the API package link to their section,
others to pkg.go.dev, with what they look like in YAML when that is not
obvious from the name.
*/ -}}
{{- define "typeRef" -}}
{{- $t := .t -}}{{- $pkg := .pkg -}}
{{- $aliases := dict "k8s.io/apimachinery/pkg/apis/meta/v1" "metav1" "k8s.io/api/core/v1" "corev1" "k8s.io/apimachinery/pkg/api/resource" "resource" "k8s.io/apimachinery/pkg/util/intstr" "intstr" "k8s.io/apimachinery/pkg/runtime" "runtime" "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1" "apiextensionsv1" -}}
{{- $hints := dict "metav1.Duration" "string, a Go duration such as `720h`" "metav1.Time" "string, an RFC 3339 time" "metav1.MicroTime" "string, an RFC 3339 time with microseconds" "resource.Quantity" "string, a quantity such as `250m` or `256Mi`" "intstr.IntOrString" "integer or string" "runtime.RawExtension" "any object" "apiextensionsv1.JSON" "any JSON value" -}}
{{- if not $t }}unknown
{{- else if eq $t.Kind 5 }}list of {{ template "typeRef" (dict "t" $t.UnderlyingType "pkg" $pkg) }}
{{- else if eq $t.Kind 4 }}{{ template "typeRef" (dict "t" $t.UnderlyingType "pkg" $pkg) }}
{{- else if eq $t.Kind 3 }}map of {{ template "typeRef" (dict "t" $t.KeyType "pkg" $pkg) }} to {{ template "typeRef" (dict "t" $t.ValueType "pkg" $pkg) }}
{{- else if eq $t.Kind 1 }}{{ $t.Name }}
{{- else if eq $t.Kind 2 }}any
{{- else if eq $t.Package $pkg }}[{{ $t.Name }}](#{{ lower $t.Name }})
{{- else }}
{{- $name := printf "%s.%s" (get $aliases $t.Package | default (base $t.Package)) $t.Name -}}
[{{ $name }}](https://pkg.go.dev/{{ $t.Package }}#{{ $t.Name }})
{{- with get $hints $name }} ({{ . }}){{ else }}{{ if and (eq $t.Kind 0) $t.UnderlyingType }}{{ if eq $t.UnderlyingType.Kind 1 }} ({{ $t.UnderlyingType.Name }}){{ end }}{{ end }}{{ end }}
{{- end -}}
{{- end -}}

{{- /*
"required": dict "f" *types.Field, "gv", "isList". controller-gen makes a
field without +required or +optional optional exactly when its json tag has
omitempty, and crd-ref-docs does not pass the tag to templates: such a field
stops `make docs` rather than being documented with a guess. The items of a
list kind (`json:"items"`) are required by the Kubernetes list convention.
*/ -}}
{{- define "required" -}}
{{- $m := .f.Markers -}}
{{- if or (index $m "required") (index $m "kubebuilder:validation:Required") (index $m "k8s:required") }}required
{{- else if or (index $m "optional") (index $m "kubebuilder:validation:Optional") (index $m "k8s:optional") }}optional
{{- else if and .isList (eq .f.Name "items") }}required
{{- else if index .gv.Markers "kubebuilder:validation:Optional" }}optional
{{- else if index .gv.Markers "kubebuilder:validation:Required" }}required
{{- else }}{{ fail (printf "field %q of %s has neither +required nor +optional: mark it, so that docs/api.md can say which it is" .f.Name .t.Name) }}
{{- end -}}
{{- end -}}

{{- /* "default": a field's markers; its +kubebuilder:default (or +default) value. */ -}}
{{- define "default" -}}
{{- $d := index . "kubebuilder:default" -}}
{{- if not $d }}{{ $d = index . "default" }}{{ end -}}
{{- with $d }}{{ $v := (last .).Value }}{{ template "code" (dict "s" (ternary $v (toJson $v) (kindIs "string" $v)) "cell" true) }}{{ end -}}
{{- end -}}

{{- /*
"constraints": the validation a set of markers declares. Argument: dict
"m" markers, "sep" separator, "cell" whether in a table cell, "anchor" the
section of the owning type's CEL rules, "ft" (fields) the field's type, to
tell the field's own CEL rules from those of its type, "plural" (types).
Validation markers not known here are still written, as name: value, so
that none is ever left out.
*/ -}}
{{- define "constraints" -}}
{{- $cell := .cell -}}
{{- $p := "kubebuilder:validation:" -}}
{{- $xv := "kubebuilder:validation:XValidation" -}}
{{- /*
crd-ref-docs copies the markers of a field's type (of its element type, for
a list) onto the field. Those apply to the field's value itself only when
the type is a string or number type of its own (such as an enum): they are
shown for such a field, and left to the type's section otherwise.
*/ -}}
{{- $m := dict -}}
{{- $ft := .ft -}}
{{- $direct := or (not $ft) (eq $ft.Kind 0) (and (eq $ft.Kind 4) $ft.UnderlyingType (eq $ft.UnderlyingType.Kind 0)) -}}
{{- range $k, $v := .m }}{{ if or $direct (not (deepEqual $v (index $ft.Markers $k))) }}{{ $_ := set $m $k $v }}{{ end }}{{ end -}}
{{- $known := list "Enum" "MinLength" "MaxLength" "Pattern" "Format" "Type" "Minimum" "ExclusiveMinimum" "Maximum" "ExclusiveMaximum" "MultipleOf" "MinItems" "MaxItems" "UniqueItems" "MinProperties" "MaxProperties" -}}
{{- $n := 0 -}}
{{- with index $m "listType" }}{{ $lt := toString (last .) }}
{{- if eq $lt "map" }}{{ if $n }}{{ $.sep }}{{ end }}{{ $n = add1 $n }}unique by {{ range $i, $k := index $m "listMapKey" }}{{ if $i }} and {{ end }}`{{ $k }}`{{ end }}
{{- else if eq $lt "set" }}{{ if $n }}{{ $.sep }}{{ end }}{{ $n = add1 $n }}items unique{{ end }}
{{- end }}
{{- range $pre := list "" "items:" }}
{{- range $name := $known }}
{{- with index $m (print $p $pre $name) }}{{ $v := last . }}
{{- if $n }}{{ $.sep }}{{ end }}{{ $n = add1 $n }}
{{- if $pre }}items: {{ end }}
{{- if eq $name "Enum" }}Enum: {{ range $i, $e := $v }}{{ if $i }}, {{ end }}{{ template "code" (dict "s" $e "cell" $cell) }}{{ end }}
{{- else if has $name (list "Pattern" "Format" "Type") }}{{ $name }} {{ template "code" (dict "s" $v "cell" $cell) }}
{{- else if eq $name "UniqueItems" }}{{ if $v }}items unique{{ else }}items need not be unique{{ end }}
{{- else if eq $name "ExclusiveMinimum" }}Minimum is {{ if not $v }}not {{ end }}exclusive
{{- else if eq $name "ExclusiveMaximum" }}Maximum is {{ if not $v }}not {{ end }}exclusive
{{- else }}{{ $s := printf "%v" $v }}{{ $name }} {{ if contains "e+" $s }}{{ printf "%.0f" $v }}{{ else }}{{ $s }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- range $k, $vs := $m }}
{{- $name := trimPrefix $p $k -}}
{{- $base := trimPrefix "items:" $name -}}
{{- if or (and (hasPrefix $p $k) (not (has $base (concat $known (list "Required" "Optional" "XValidation"))))) (has $k (list "nullable" "kubebuilder:pruning:PreserveUnknownFields")) }}
{{- $v := last $vs -}}
{{- if $n }}{{ $.sep }}{{ end }}{{ $n = add1 $n }}{{ get (dict "kubebuilder:pruning:PreserveUnknownFields" "unknown fields preserved") $name | default $name }}
{{- if kindIs "slice" $v }}: {{ range $i, $e := $v }}{{ if $i }}, {{ end }}{{ template "code" (dict "s" $e "cell" $cell) }}{{ end }}
{{- else if not (kindIs "struct" $v) }}: {{ template "code" (dict "s" $v "cell" $cell) }}{{ end }}
{{- end }}
{{- end }}
{{- with index $m $xv }}
{{- if $n }}{{ $.sep }}{{ end }}{{ $n = add1 $n }}
{{- if and $ft (deepEqual . (index $ft.Markers $xv)) }}CEL rules of [{{ $ft.Name }}](#{{ lower $ft.Name }}-rules)
{{- else }}[CEL rule{{ if or $.plural (gt (len .) 1) }}s{{ end }}]({{ $.anchor }})
{{- end }}
{{- end }}
{{- with index $m (print $p "items:XValidation") }}
{{- if $n }}{{ $.sep }}{{ end }}{{ $n = add1 $n }}items: [CEL rule{{ if gt (len .) 1 }}s{{ end }}]({{ $.anchor }})
{{- end }}
{{- end -}}

{{- /*
"rules": the CEL rules (+kubebuilder:validation:XValidation, and those
controller-gen makes of ExactlyOneOf, AtMostOneOf, AtLeastOneOf) of a type
and of its fields, with their messages. Argument: dict "t" *types.Type, "isStruct".
A field's rules that come from its type are in that type's section.
*/ -}}
{{- define "rules" -}}
{{- $t := .t -}}
{{- $xv := "kubebuilder:validation:XValidation" -}}
{{- $ixv := "kubebuilder:validation:items:XValidation" -}}
{{- /* controller-gen turns these markers into CEL rules with these messages. */ -}}
{{- $oneOf := list (list "ExactlyOneOf" "exactly one of" "exactly one of the fields in %v must be set") (list "AtMostOneOf" "at most one of" "at most one of the fields in %v may be set") (list "AtLeastOneOf" "at least one of" "at least one of the fields in %v must be set") -}}
{{- $has := index $t.Markers $xv -}}
{{- range $oneOf }}{{ if index $t.Markers (print "kubebuilder:validation:" (first .)) }}{{ $has = true }}{{ end }}{{ end -}}
{{- range $t.Members }}{{ if or (and (index .Markers $xv) (not (deepEqual (index .Markers $xv) (index .Type.Markers $xv)))) (index .Markers $ixv) }}{{ $has = true }}{{ end }}{{ end -}}
{{- if $has }}

### {{ $t.Name }} rules

[CEL](https://kubernetes.io/docs/reference/using-api/cel/) rules the API server evaluates (`x-kubernetes-validations` in the CRD). An object that breaks one is refused with the message shown.

| Applies to | Rule | Message |
|---|---|---|
{{- range index $t.Markers $xv }}
| {{ if $.isStruct }}the object{{ else }}the value{{ end }}{{ with .FieldPath }}, reported at `{{ . }}`{{ end }} | {{ template "code" (dict "s" .Rule "cell" true) }} | {{ template "message" . }} |
{{- end }}
{{- range $o := $oneOf }}
{{- range index $t.Markers (print "kubebuilder:validation:" (first $o)) }}
| the object | {{ index $o 1 }} {{ range $i, $f := . }}{{ if $i }}, {{ end }}`{{ $f }}`{{ end }} is set (`+kubebuilder:validation:{{ first $o }}`) | {{ printf (index $o 2) . }} |
{{- end }}
{{- end }}
{{- range $t.Members }}
{{- $f := . }}
{{- if not (deepEqual (index .Markers $xv) (index .Type.Markers $xv)) }}
{{- range index $f.Markers $xv }}
| `{{ $f.Name }}`{{ with .FieldPath }}, reported at `{{ . }}`{{ end }} | {{ template "code" (dict "s" .Rule "cell" true) }} | {{ template "message" . }} |
{{- end }}
{{- end }}
{{- range index $f.Markers $ixv }}
| each item of `{{ $f.Name }}`{{ with .FieldPath }}, reported at `{{ . }}`{{ end }} | {{ template "code" (dict "s" .Rule "cell" true) }} | {{ template "message" . }} |
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{- /* "message": what the API server answers when a rule (crdmarkers.XValidation) fails. */ -}}
{{- define "message" -}}
{{- if .Message }}{{ template "cell" .Message }}
{{- else if .MessageExpression }}computed by {{ template "code" (dict "s" .MessageExpression "cell" true) }}
{{- else }}{{ template "code" (dict "s" (print "failed rule: " .Rule) "cell" true) }}
{{- end -}}
{{- end -}}
