// Command apidocs writes docs/api.md, the reference of the stax.dev API, from
// the Go source of api/v1alpha1: the doc comments and the kubebuilder markers
// that controller-gen turns into the CRD's schema and validation rules.
//
// It reads the source rather than the generated CRD because only the source
// has what a reader needs besides the schema: which named type a field has
// (so sections can link to each other), the meaning of each enum value, and
// the constants users meet as annotation keys and Secret keys.
//
// Usage (from the repository root, as `make docs` runs it):
//
//	go run ./hack/apidocs -dir api/v1alpha1 -out docs/api.md
//
// The output depends on nothing but the source, so it is byte-for-byte
// reproducible; main_test.go fails while the committed docs/api.md differs
// from what this program writes.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "apidocs:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("apidocs", flag.ContinueOnError)
	dir := flags.String("dir", "api/v1alpha1", "directory of the API package")
	out := flags.String("out", "docs/api.md", "Markdown file to write")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flags.Args())
	}
	md, err := generate(*dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*out, md, 0o644)
}

// apiPackage is what the generator knows of the API package.
type apiPackage struct {
	name    string // the package name, which is the API version
	group   string // from the +groupName marker
	doc     string
	types   map[string]*doc.Type
	consts  []*doc.Value
	imports map[string]string // import name to import path, over all files
}

func load(dir string) (*apiPackage, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}

	pkg := &apiPackage{name: files[0].Name.Name, types: map[string]*doc.Type{}, imports: map[string]string{}}
	for _, f := range files {
		if f.Doc != nil {
			for _, m := range parseMarkers(f.Doc.Text()) {
				if m.name == "groupName" {
					pkg.group = m.value
				}
			}
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			name := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				name = imp.Name.Name
			}
			// Field types are resolved by import name across files, so one
			// name must mean one package throughout.
			if prev, ok := pkg.imports[name]; ok && prev != path {
				return nil, fmt.Errorf("import name %s stands for both %s and %s", name, prev, path)
			}
			pkg.imports[name] = path
		}
	}
	if pkg.group == "" {
		return nil, fmt.Errorf("no +groupName marker in the package comment of %s", dir)
	}

	// go/doc attaches typed constants (the enum values) to their type and
	// keeps exported identifiers only, which is exactly the API surface.
	d, err := doc.NewFromFiles(fset, files, "api/"+pkg.name)
	if err != nil {
		return nil, err
	}
	pkg.doc = d.Doc
	for _, t := range d.Types {
		pkg.types[t.Name] = t
	}
	pkg.consts = d.Consts
	return pkg, nil
}

// marker is one kubebuilder marker line: +name=value, +name:={json},
// +name:key=value,key=value, or a bare +name.
type marker struct {
	name  string
	value string
	args  map[string]string
}

// argMarkers take key=value arguments after the name; every other marker
// takes at most one value.
var argMarkers = []string{
	"kubebuilder:validation:XValidation",
	"kubebuilder:printcolumn",
	"kubebuilder:resource",
}

// parseMarkers returns the marker lines of a comment, in order.
func parseMarkers(comment string) []marker {
	var out []marker
	for line := range strings.Lines(comment) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "+") {
			continue
		}
		out = append(out, parseMarker(line[1:]))
	}
	return out
}

func parseMarker(s string) marker {
	head, value, hasValue := strings.Cut(s, "=")
	if !hasValue {
		return marker{name: s}
	}
	if name, ok := strings.CutSuffix(head, ":"); ok {
		// +kubebuilder:default:={"observedGeneration":-1}
		return marker{name: name, value: value}
	}
	for _, name := range argMarkers {
		if rest, ok := strings.CutPrefix(s, name+":"); ok {
			return marker{name: name, args: parseArgs(rest)}
		}
	}
	return marker{name: head, value: value}
}

// parseArgs reads key=value,key=value where a value is a Go string literal
// ("..." or `...`) or runs to the next comma.
func parseArgs(s string) map[string]string {
	args := map[string]string{}
	for s != "" {
		key, rest, _ := strings.Cut(s, "=")
		var value string
		switch {
		case strings.HasPrefix(rest, `"`):
			quoted, err := strconv.QuotedPrefix(rest)
			if err != nil {
				// Unterminated: keep the text, so the problem shows.
				quoted = rest
			}
			value = unquote(quoted)
			rest = rest[len(quoted):]
		case strings.HasPrefix(rest, "`"):
			end := strings.Index(rest[1:], "`")
			if end < 0 {
				end = len(rest) - 1
			}
			value = rest[1 : end+1]
			rest = rest[min(end+2, len(rest)):]
		default:
			value, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		args[strings.TrimSpace(key)] = value
		s = strings.TrimPrefix(rest, ",")
	}
	return args
}

// unquote strips Go string quotes from a marker value, if it has any.
func unquote(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

// prose is a comment without its marker lines: paragraphs separated by a
// blank line, each joined into one line.
func prose(comment string) []string {
	var paras []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			paras = append(paras, strings.Join(cur, " "))
			cur = nil
		}
	}
	for line := range strings.Lines(comment) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "+"):
		case line == "":
			flush()
		default:
			cur = append(cur, line)
		}
	}
	flush()
	return paras
}

// docText renders a comment for a table cell.
func docText(comment string) string {
	paras := prose(comment)
	for i, p := range paras {
		paras[i] = inline(p)
	}
	return strings.Join(paras, "<br><br>")
}

// docBlock renders a comment as Markdown paragraphs.
func docBlock(comment string) string {
	paras := prose(comment)
	for i, p := range paras {
		paras[i] = inline(p)
	}
	return strings.Join(paras, "\n\n")
}

// references are the spellings of secret references and their escapes. They
// are set as code, since as prose Markdown would read $<secret:x/y> as an
// autolink and GitHub would read text between two $ as math.
var references = regexp.MustCompile(`\$\$?(\{secret:[^}\s]*\}|<secret:[^>\s]*>|[{<])`)

// inline renders Go comment text as one line of Markdown that shows exactly
// that text: paired backticks stay code spans, secret references become code
// spans, and every other character Markdown (or GitHub's extensions, or a
// table) would interpret is escaped.
func inline(s string) string {
	var b strings.Builder
	for s != "" {
		if loc := references.FindStringIndex(s); loc != nil && loc[0] == 0 {
			b.WriteString(code(s[:loc[1]]))
			s = s[loc[1]:]
			continue
		}
		c := s[0]
		if c == '`' {
			if end := strings.IndexByte(s[1:], '`'); end > 0 {
				b.WriteString(code(s[1 : end+1]))
				s = s[end+2:]
				continue
			}
		}
		if strings.IndexByte("\\`*_[]<>|$", c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
		s = s[1:]
	}
	return b.String()
}

// code renders s as a code span that is safe in a table cell.
func code(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	// GFM splits table cells at | even inside code spans; \| keeps it.
	return fence + strings.ReplaceAll(s, "|", `\|`) + fence
}

func anchor(typeName string) string { return strings.ToLower(typeName) }

func link(typeName string) string {
	return fmt.Sprintf("[%s](#%s)", typeName, anchor(typeName))
}

// external describes how types from other packages look in YAML.
type external struct {
	shape string // what the value looks like in a manifest
	doc   string // used when the field has no doc comment of its own
}

var externals = map[string]external{
	"k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta": {doc: "Standard object metadata: name, namespace, labels, annotations."},
	"k8s.io/apimachinery/pkg/apis/meta/v1.ListMeta":   {doc: "Standard list metadata."},
	"k8s.io/apimachinery/pkg/apis/meta/v1.Duration":   {shape: "string, a Go duration such as `720h`"},
	"k8s.io/apimachinery/pkg/apis/meta/v1.Time":       {shape: "string, an RFC 3339 time"},
	"k8s.io/apimachinery/pkg/api/resource.Quantity":   {shape: "string, a quantity such as `250m` or `256Mi`"},
	"k8s.io/api/core/v1.Protocol":                     {shape: "string"},
}

const typeMeta = "k8s.io/apimachinery/pkg/apis/meta/v1.TypeMeta"

// fieldType is a field's type as the reader sees it.
type fieldType struct {
	md string
	// local is the API type the field holds, directly or as list items or
	// map values; empty for a built-in or external type.
	local string
	// container is "" when the field holds local directly, else "items" or
	// "values".
	container string
	// external is the qualified name of a type from another package.
	external string
}

func (p *apiPackage) describeType(e ast.Expr) (fieldType, error) {
	switch t := e.(type) {
	case *ast.StarExpr:
		return p.describeType(t.X)
	case *ast.Ident:
		if _, ok := p.types[t.Name]; ok {
			return fieldType{md: link(t.Name), local: t.Name}, nil
		}
		return fieldType{md: t.Name}, nil
	case *ast.SelectorExpr:
		pkgName, ok := t.X.(*ast.Ident)
		if !ok {
			return fieldType{}, fmt.Errorf("unsupported type %s", types.ExprString(e))
		}
		path, ok := p.imports[pkgName.Name]
		if !ok {
			return fieldType{}, fmt.Errorf("type %s: package %s is not imported", types.ExprString(e), pkgName.Name)
		}
		qualified := path + "." + t.Sel.Name
		md := fmt.Sprintf("[%s](https://pkg.go.dev/%s#%s)", types.ExprString(e), path, t.Sel.Name)
		if ext := externals[qualified]; ext.shape != "" {
			md += " (" + ext.shape + ")"
		}
		return fieldType{md: md, external: qualified}, nil
	case *ast.ArrayType:
		elem, err := p.describeType(t.Elt)
		if err != nil {
			return fieldType{}, err
		}
		out := fieldType{md: "list of " + elem.md}
		if elem.container == "" {
			out.local, out.container = elem.local, "items"
		}
		return out, nil
	case *ast.MapType:
		key, err := p.describeType(t.Key)
		if err != nil {
			return fieldType{}, err
		}
		value, err := p.describeType(t.Value)
		if err != nil {
			return fieldType{}, err
		}
		out := fieldType{md: "map of " + key.md + " to " + value.md}
		if value.container == "" {
			out.local, out.container = value.local, "values"
		}
		return out, nil
	}
	return fieldType{}, fmt.Errorf("unsupported type %s", types.ExprString(e))
}

// simpleValidations names the markers rendered as "Name value".
var simpleValidations = []string{
	"Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum", "MultipleOf",
	"MinLength", "MaxLength", "MinItems", "MaxItems", "MinProperties", "MaxProperties",
}

const validationPrefix = "kubebuilder:validation:"

// validations renders the schema constraints among markers. A validation
// marker it does not know is an error, so the page can never silently leave
// out a constraint the CRD enforces. XValidation rules are counted, not
// rendered: they go to the type's rules table.
func validations(markers []marker, prefix string) (out []string, rules int, err error) {
	var listMapKeys []string
	for _, m := range markers {
		if m.name == "listMapKey" {
			listMapKeys = append(listMapKeys, code(m.value))
		}
	}
	for _, m := range markers {
		if m.name == "listType" {
			switch m.value {
			case "map":
				out = append(out, prefix+"unique by "+strings.Join(listMapKeys, " and "))
			case "set":
				out = append(out, prefix+"items unique")
			}
			continue
		}
		if !strings.HasPrefix(m.name, validationPrefix) {
			continue
		}
		name := strings.TrimPrefix(m.name, validationPrefix)
		switch {
		case strings.HasPrefix(name, "items:"):
			if name == "items:XValidation" {
				return nil, 0, fmt.Errorf("marker +%s is not supported by hack/apidocs", m.name)
			}
			inner, _, err := validations([]marker{{name: validationPrefix + strings.TrimPrefix(name, "items:"), value: m.value}}, "items: ")
			if err != nil {
				return nil, 0, err
			}
			out = append(out, inner...)
		case name == "Required" || name == "Optional":
		case name == "XValidation":
			rules++
		case name == "Enum":
			var values []string
			for v := range strings.SplitSeq(m.value, ";") {
				values = append(values, code(unquote(v)))
			}
			out = append(out, prefix+"Enum: "+strings.Join(values, ", "))
		case name == "Pattern" || name == "Format":
			out = append(out, prefix+name+" "+code(unquote(strings.Trim(m.value, "`"))))
		case name == "UniqueItems":
			out = append(out, prefix+"items unique")
		case slices.Contains(simpleValidations, name):
			out = append(out, prefix+name+" "+m.value)
		default:
			return nil, 0, fmt.Errorf("marker +%s is not supported by hack/apidocs: teach it how to document it", m.name)
		}
	}
	return out, rules, nil
}

// rule is one CEL validation rule.
type rule struct{ on, expr, message string }

func rulesOf(markers []marker, on string) []rule {
	var out []rule
	for _, m := range markers {
		if m.name != validationPrefix+"XValidation" {
			continue
		}
		r := rule{on: on, expr: m.args["rule"]}
		if fp := m.args["fieldPath"]; fp != "" {
			r.on += ", reported at " + code(fp)
		}
		switch {
		case m.args["message"] != "":
			r.message = inline(m.args["message"])
		case m.args["messageExpression"] != "":
			r.message = "computed by " + code(m.args["messageExpression"])
		default:
			r.message = "(the API server's default message)"
		}
		out = append(out, r)
	}
	return out
}

func hasMarker(markers []marker, names ...string) bool {
	return slices.ContainsFunc(markers, func(m marker) bool { return slices.Contains(names, m.name) })
}

func markerValue(markers []marker, name string) (string, bool) {
	for _, m := range markers {
		if m.name == name {
			return m.value, true
		}
	}
	return "", false
}

// row is one field of a struct's table.
type row struct {
	name, typ, required, def, validation, doc string
}

// typeSpec returns the declaration of a documented type.
func typeSpec(t *doc.Type) *ast.TypeSpec {
	for _, s := range t.Decl.Specs {
		if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == t.Name {
			return ts
		}
	}
	return nil
}

func typeMarkers(t *doc.Type) []marker { return parseMarkers(t.Doc) }

// rows returns the table rows of struct type t, and the rules declared on its
// fields. Inline fields contribute their own fields.
func (p *apiPackage) rows(t *doc.Type, st *ast.StructType) ([]row, []rule, error) {
	var rows []row
	var rules []rule
	for _, f := range st.Fields.List {
		tag := ""
		if f.Tag != nil {
			tag = reflect.StructTag(unquote(f.Tag.Value)).Get("json")
		}
		jsonName, opts, _ := strings.Cut(tag, ",")
		if jsonName == "-" {
			continue
		}
		isInline := jsonName == "" && slices.Contains(strings.Split(opts, ","), "inline")
		ft, err := p.describeType(f.Type)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", t.Name, err)
		}
		if isInline {
			switch {
			case ft.external == typeMeta:
				rows = append(rows,
					row{name: code("apiVersion"), typ: "string", required: "required", doc: code(p.group + "/" + p.name)},
					row{name: code("kind"), typ: "string", required: "required", doc: code(t.Name)})
			case ft.local != "" && ft.container == "":
				inner := p.types[ft.local]
				ist, ok := typeSpec(inner).Type.(*ast.StructType)
				if !ok {
					return nil, nil, fmt.Errorf("%s: inline field of non-struct type %s", t.Name, ft.local)
				}
				r, ru, err := p.rows(inner, ist)
				if err != nil {
					return nil, nil, err
				}
				rows, rules = append(rows, r...), append(rules, ru...)
			default:
				return nil, nil, fmt.Errorf("%s: cannot document inline field of type %s", t.Name, types.ExprString(f.Type))
			}
			continue
		}
		if jsonName == "" {
			if len(f.Names) == 0 {
				return nil, nil, fmt.Errorf("%s: embedded field %s has no json name", t.Name, types.ExprString(f.Type))
			}
			jsonName = f.Names[0].Name
		}
		if len(f.Names) > 1 {
			return nil, nil, fmt.Errorf("%s: fields %v share one declaration and one json tag", t.Name, f.Names)
		}
		if len(f.Names) == 1 && !f.Names[0].IsExported() {
			continue
		}

		comment := ""
		if f.Doc != nil {
			comment = f.Doc.Text()
		}
		markers := parseMarkers(comment)
		r := row{name: code(jsonName), typ: ft.md, doc: docText(comment)}
		if r.doc == "" {
			r.doc = inline(externals[ft.external].doc)
		}
		// controller-gen's rule: a marker decides; without one, a field
		// is optional exactly when it is omitempty.
		switch {
		case hasMarker(markers, "required", validationPrefix+"Required"):
			r.required = "required"
		case hasMarker(markers, "optional", validationPrefix+"Optional"):
			r.required = "optional"
		case slices.Contains(strings.Split(opts, ","), "omitempty"):
			r.required = "optional"
		default:
			r.required = "required"
		}
		if def, ok := markerValue(markers, "kubebuilder:default"); ok {
			r.def = code(def)
		}
		v, nrules, err := validations(markers, "")
		if err != nil {
			return nil, nil, fmt.Errorf("%s.%s: %w", t.Name, jsonName, err)
		}
		// A field of a named string type (Charset, say) is constrained by
		// the type's markers too, as controller-gen applies them.
		if ft.local != "" {
			if lt := p.types[ft.local]; lt != nil {
				if _, isStruct := typeSpec(lt).Type.(*ast.StructType); !isStruct {
					prefix := ""
					if ft.container != "" {
						prefix = ft.container + ": "
					}
					tv, _, err := validations(typeMarkers(lt), prefix)
					if err != nil {
						return nil, nil, fmt.Errorf("%s: %w", lt.Name, err)
					}
					v = append(v, tv...)
				}
			}
		}
		if nrules > 0 {
			word := "CEL rule"
			if nrules > 1 {
				word = "CEL rules"
			}
			v = append(v, fmt.Sprintf("[%s](#%s-rules)", word, anchor(t.Name)))
		}
		r.validation = strings.Join(v, "<br>")
		rows = append(rows, r)
		rules = append(rules, rulesOf(markers, code(jsonName))...)
	}
	return rows, rules, nil
}

// order lists the types to document: each kind (a type marked
// +kubebuilder:object:root) followed depth-first by the types its fields
// use, in field order, so the page reads top-down like a manifest; then any
// exported type not reached that way.
func (p *apiPackage) order() ([]string, error) {
	var names, roots []string
	for name, t := range p.types {
		names = append(names, name)
		if hasMarker(typeMarkers(t), "kubebuilder:object:root") {
			roots = append(roots, name)
		}
	}
	slices.Sort(names)
	slices.Sort(roots)
	seen := map[string]bool{}
	var out []string
	var visit func(string) error
	visit = func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		out = append(out, name)
		st, ok := typeSpec(p.types[name]).Type.(*ast.StructType)
		if !ok {
			return nil
		}
		for _, f := range st.Fields.List {
			ft, err := p.describeType(f.Type)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if ft.local != "" {
				if err := visit(ft.local); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func generate(dir string) ([]byte, error) {
	p, err := load(dir)
	if err != nil {
		return nil, err
	}
	names, err := p.order()
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	gv := p.group + "/" + p.name
	// The header names no path: the output must not depend on where the
	// generator was run from.
	fmt.Fprintf(&b, "<!-- Code generated by hack/apidocs from the Go types of %s. DO NOT EDIT: run `make docs`. -->\n\n", gv)
	fmt.Fprintf(&b, "# %s API reference\n\n", gv)
	if p.doc != "" {
		b.WriteString(docBlock(p.doc) + "\n\n")
	}
	b.WriteString("Generated from the Go types and their kubebuilder markers, which also generate the CRD. " +
		"Field names are as written in YAML. *Required* and *optional*, defaults and validation are enforced " +
		"by the API server when a Blueprint is created or updated; `kubectl blueprint validate` checks the same " +
		"rules offline. A field of a type below links to that type's section.\n\n")
	for _, n := range names {
		fmt.Fprintf(&b, "- %s\n", link(n))
	}
	b.WriteString("- [Constants](#constants)\n")

	for _, n := range names {
		if err := p.writeType(&b, p.types[n]); err != nil {
			return nil, err
		}
	}
	if err := p.writeConstants(&b); err != nil {
		return nil, err
	}
	// Sections end in a blank line and start with one; keep one.
	return blankLines.ReplaceAll(b.Bytes(), []byte("\n\n")), nil
}

var blankLines = regexp.MustCompile(`\n{3,}`)

func (p *apiPackage) writeType(b *bytes.Buffer, t *doc.Type) error {
	spec := typeSpec(t)
	if spec == nil {
		return fmt.Errorf("no declaration of %s", t.Name)
	}
	markers := typeMarkers(t)
	fmt.Fprintf(b, "\n## %s\n\n", t.Name)
	if d := docBlock(t.Doc); d != "" {
		b.WriteString(d + "\n\n")
	}
	if hasMarker(markers, "kubebuilder:object:root") {
		p.writeResource(b, t, markers)
	}

	var rules []rule
	if st, ok := spec.Type.(*ast.StructType); ok {
		rows, fieldRules, err := p.rows(t, st)
		if err != nil {
			return err
		}
		// Rules on the type come first: they are listed on the type.
		rules = append(rulesOf(markers, "the object"), fieldRules...)
		if _, nrules, err := validations(markers, ""); err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		} else if nrules > 0 {
			fmt.Fprintf(b, "Validated as a whole by [CEL rules](#%s-rules).\n\n", anchor(t.Name))
		}
		b.WriteString("| Field | Type | Required | Default | Validation | Description |\n")
		b.WriteString("|---|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", r.name, r.typ, r.required, r.def, r.validation, r.doc)
		}
		b.WriteString("\n")
	} else {
		ft, err := p.describeType(spec.Type)
		if err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
		v, nrules, err := validations(markers, "")
		if err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
		if nrules > 0 {
			v = append(v, fmt.Sprintf("[CEL rules](#%s-rules)", anchor(t.Name)))
		}
		fmt.Fprintf(b, "Type: %s.", ft.md)
		if len(v) > 0 {
			fmt.Fprintf(b, " Validation: %s.", strings.Join(v, "; "))
		}
		b.WriteString("\n\n")
		rules = rulesOf(markers, "the value")
		if err := writeValues(b, t.Consts); err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
	}

	if len(rules) > 0 {
		fmt.Fprintf(b, "### %s rules\n\n", t.Name)
		b.WriteString("[CEL](https://kubernetes.io/docs/reference/using-api/cel/) rules the API server evaluates " +
			"(`x-kubernetes-validations` in the CRD). A Blueprint that breaks one is refused with the message shown.\n\n")
		b.WriteString("| Applies to | Rule | Message |\n|---|---|---|\n")
		for _, r := range rules {
			fmt.Fprintf(b, "| %s | %s | %s |\n", r.on, code(r.expr), r.message)
		}
		b.WriteString("\n")
	}
	return nil
}

// writeResource describes a kind: how kubectl names it and what `kubectl
// get` shows.
func (p *apiPackage) writeResource(b *bytes.Buffer, t *doc.Type, markers []marker) {
	var facts []string
	facts = append(facts, fmt.Sprintf("`apiVersion: %s`, `kind: %s`", p.group+"/"+p.name, t.Name))
	for _, m := range markers {
		if m.name != "kubebuilder:resource" {
			continue
		}
		scope := "namespaced"
		if m.args["scope"] == "Cluster" {
			scope = "cluster-scoped"
		}
		facts = append(facts, scope)
		if sn := m.args["shortName"]; sn != "" {
			facts = append(facts, "short name "+codeList(sn))
		}
		if c := m.args["categories"]; c != "" {
			facts = append(facts, "categories "+codeList(c))
		}
	}
	if hasMarker(markers, "kubebuilder:subresource:status") {
		facts = append(facts, "`status` is a subresource: applying or editing the object never changes it")
	}
	b.WriteString(strings.Join(facts, "; ") + ".\n\n")

	var cols []marker
	for _, m := range markers {
		if m.name == "kubebuilder:printcolumn" {
			cols = append(cols, m)
		}
	}
	if len(cols) == 0 {
		return
	}
	b.WriteString("`kubectl get` columns after `NAME`:\n\n| Column | JSONPath | Description |\n|---|---|---|\n")
	for _, c := range cols {
		fmt.Fprintf(b, "| %s | %s | %s |\n", strings.ToUpper(c.args["name"]), code(c.args["JSONPath"]), inline(c.args["description"]))
	}
	b.WriteString("\n")
}

func codeList(semicolonSeparated string) string {
	var out []string
	for v := range strings.SplitSeq(semicolonSeparated, ";") {
		out = append(out, code(v))
	}
	return strings.Join(out, ", ")
}

// constValue renders the value of the i-th name of a constant spec.
func constValue(spec *ast.ValueSpec, i int) (string, error) {
	if i >= len(spec.Values) {
		return "", fmt.Errorf("constant %s has no explicit value (iota?); hack/apidocs documents literal values only", spec.Names[i].Name)
	}
	if lit, ok := spec.Values[i].(*ast.BasicLit); ok {
		return code(unquote(lit.Value)), nil
	}
	return code(types.ExprString(spec.Values[i])), nil
}

// writeValues lists the constants of a named type: its enum values.
func writeValues(b *bytes.Buffer, values []*doc.Value) error {
	var lines []string
	for _, v := range values {
		for _, s := range v.Decl.Specs {
			spec := s.(*ast.ValueSpec)
			for i, n := range spec.Names {
				if !n.IsExported() {
					continue
				}
				val, err := constValue(spec, i)
				if err != nil {
					return err
				}
				lines = append(lines, fmt.Sprintf("| %s | %s | %s |", val, code(n.Name), docText(specDoc(spec))))
			}
		}
	}
	if len(lines) == 0 {
		return nil
	}
	b.WriteString("| Value | Go constant | Meaning |\n|---|---|---|\n")
	b.WriteString(strings.Join(lines, "\n") + "\n\n")
	return nil
}

func specDoc(spec *ast.ValueSpec) string {
	switch {
	case spec.Doc != nil:
		return spec.Doc.Text()
	case spec.Comment != nil:
		return spec.Comment.Text()
	}
	return ""
}

// writeConstants lists the package's untyped exported constants: annotation
// keys, Secret key suffixes, condition types and special values. Single
// declarations share one table; a declaration group gets its own, under the
// group's comment.
func (p *apiPackage) writeConstants(b *bytes.Buffer) error {
	b.WriteString("\n## Constants\n\n")
	b.WriteString("Exported constants of the API package. Users meet them as field values, annotation keys, " +
		"Secret keys and condition types.\n\n")
	var singles []string
	var groups bytes.Buffer
	for _, v := range p.consts {
		grouped := v.Decl.Lparen.IsValid()
		var lines []string
		for _, s := range v.Decl.Specs {
			spec := s.(*ast.ValueSpec)
			comment := specDoc(spec)
			if !grouped {
				comment = v.Doc
			}
			for i, n := range spec.Names {
				if !n.IsExported() {
					continue
				}
				val, err := constValue(spec, i)
				if err != nil {
					return err
				}
				lines = append(lines, fmt.Sprintf("| %s | %s | %s |", code(n.Name), val, docText(comment)))
			}
		}
		if len(lines) == 0 {
			continue
		}
		if !grouped {
			singles = append(singles, lines...)
			continue
		}
		if d := docBlock(v.Doc); d != "" {
			groups.WriteString(d + "\n\n")
		}
		groups.WriteString("| Constant | Value | Meaning |\n|---|---|---|\n")
		groups.WriteString(strings.Join(lines, "\n") + "\n\n")
	}
	if len(singles) > 0 {
		b.WriteString("| Constant | Value | Meaning |\n|---|---|---|\n")
		b.WriteString(strings.Join(singles, "\n") + "\n\n")
	}
	if len(singles) == 0 && groups.Len() == 0 {
		return errors.New("the package has no exported constants to document")
	}
	b.Write(groups.Bytes())
	// Exactly one newline at the end of the file.
	b.Truncate(len(bytes.TrimRight(b.Bytes(), "\n")))
	b.WriteString("\n")
	return nil
}
