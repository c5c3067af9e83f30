package reference

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func lit(s string) Segment { return Segment{Literal: s} }

func managed(key string) Segment { return Segment{Ref: &Ref{Key: key}} }

func external(name, key string) Segment { return Segment{Ref: &Ref{SecretName: name, Key: key}} }

var (
	longName = strings.Repeat("a", 250) + ".bc" // 253 bytes, the maximum
	longKey  = strings.Repeat("K", 253)
)

// parseTests is shared with FuzzParse as its seed corpus.
var parseTests = map[string]struct {
	in   string
	want Value
}{
	"empty":                      {"", nil},
	"plain text":                 {"hello world", Value{lit("hello world")}},
	"lone dollar":                {"$", Value{lit("$")}},
	"double dollar":              {"$$", Value{lit("$$")}},
	"dollar letter":              {"$x", Value{lit("$x")}},
	"trailing dollar":            {"abc$", Value{lit("abc$")}},
	"dollar before closer":       {"$} $>", Value{lit("$} $>")}},
	"shell style without braces": {"$HOME/bin", Value{lit("$HOME/bin")}},
	"escaped brace":              {"$${", Value{lit("${")}},
	"escaped angle":              {"$$<", Value{lit("$<")}},
	"escaped reference":          {"$${secret:a}", Value{lit("${secret:a}")}},
	"escaped shell variable":     {"$${HOME}", Value{lit("${HOME}")}},
	// "$" is literal, then "$${" is an escape, then "secret:a}" is literal.
	"dollar before escape":      {"$$${secret:a}", Value{lit("$${secret:a}")}},
	"two dollars before escape": {"$$$${x}", Value{lit("$$${x}")}},
	"managed brace":             {"${secret:db-password}", Value{managed("db-password")}},
	"managed angle":             {"$<secret:db-password>", Value{managed("db-password")}},
	"external brace":            {"${secret:db-creds/password}", Value{external("db-creds", "password")}},
	"external angle":            {"$<secret:db-creds/password>", Value{external("db-creds", "password")}},
	"key with dots":             {"${secret:tls/tls.crt}", Value{external("tls", "tls.crt")}},
	"key with underscore and uppercase": {
		"${secret:app/API_TOKEN}", Value{external("app", "API_TOKEN")},
	},
	"dotted secret name":     {"${secret:my.app-creds/k}", Value{external("my.app-creds", "k")}},
	"managed name with dots": {"${secret:a.b_C-1}", Value{managed("a.b_C-1")}},
	"key starting with one dot": {
		"${secret:a/.hidden}", Value{external("a", ".hidden")},
	},
	"maximum lengths": {
		"${secret:" + longName + "/" + longKey + "}", Value{external(longName, longKey)},
	},
	"connection string": {
		"postgres://u:${secret:db-password}@db:5432/x",
		Value{lit("postgres://u:"), managed("db-password"), lit("@db:5432/x")},
	},
	"several refs with text": {
		"${secret:a/user}:$<secret:a/pass>@host?token=${secret:token}",
		Value{external("a", "user"), lit(":"), external("a", "pass"), lit("@host?token="), managed("token")},
	},
	"adjacent refs": {"${secret:a}$<secret:b>", Value{managed("a"), managed("b")}},
	"closer after angle ref": {
		"$<secret:x>}", Value{managed("x"), lit("}")},
	},
	"brace closer inside angle ref is not special": {
		"$<secret:x>${secret:y}", Value{managed("x"), managed("y")},
	},
	"escape merged with surrounding text": {
		"a $${b} c ${secret:d} $$<e>", Value{lit("a ${b} c "), managed("d"), lit(" $<e>")},
	},
	"escaped and real reference": {
		"$${secret:a}${secret:b}", Value{lit("${secret:a}"), managed("b")},
	},
	"dollar amounts":    {"cost $5, ${secret:price}$", Value{lit("cost $5, "), managed("price"), lit("$")}},
	"non-ascii literal": {"pässwörd=${secret:a}✓", Value{lit("pässwörd="), managed("a"), lit("✓")}},
}

func TestParse(t *testing.T) {
	for name, tc := range parseTests {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q) = %s, want %s", tc.in, dump(got), dump(tc.want))
			}
		})
	}
}

// parseErrorTests is shared with FuzzParse as its seed corpus.
var parseErrorTests = map[string]struct {
	in     string
	offset int
	text   string
	reason string // expected prefix of SyntaxError.Reason
}{
	"unterminated":         {"x ${secret:db", 2, "${secret:db", "unterminated reference"},
	"unterminated angle":   {"$<secret:db", 0, "$<secret:db", "unterminated reference"},
	"lone opener":          {"${", 0, "${", "unterminated reference"},
	"trailing angle":       {"abc$<", 3, "$<", "unterminated reference"},
	"mixed spelling":       {"${secret:a/b>", 0, "${secret:a/b>", "unterminated reference"},
	"mixed spelling angle": {"$<secret:a/b}", 0, "$<secret:a/b}", "unterminated reference"},
	"empty brace":          {"${}", 0, "${}", "empty reference"},
	"digest key":           {"x${secret:web-generated/.digest-key}", 1, "${secret:web-generated/.digest-key}", `key ".digest-key" is reserved`},
	"staged value":         {"$<secret:web-generated/.staged.db-password>", 0, "$<secret:web-generated/.staged.db-password>", `key ".staged.db-password" is reserved`},
	"staged, other Secret": {"${secret:other/.staged.x}", 0, "${secret:other/.staged.x}", `key ".staged.x" is reserved`},
	"empty angle":          {"$<>", 0, "$<>", "empty reference"},
	"shell variable": {
		"PATH=${HOME}/bin", 5, "${HOME}",
		"unknown reference kind (only secret: is supported; write $${ for a literal ${)",
	},
	"unknown kind angle": {
		"$<configmap:a/b>", 0, "$<configmap:a/b>",
		"unknown reference kind (only secret: is supported; write $$< for a literal $<)",
	},
	"whitespace before kind": {"${ secret:a}", 0, "${ secret:a}", "unknown reference kind"},
	"uppercase kind":         {"${SECRET:a}", 0, "${SECRET:a}", "unknown reference kind"},
	"kind without colon":     {"${secret}", 0, "${secret}", "unknown reference kind"},
	"missing target":         {"${secret:}", 0, "${secret:}", "missing Secret name"},
	"empty secret name":      {"${secret:/k}", 0, "${secret:/k}", `invalid Secret name "": must not be empty`},
	"empty key":              {"${secret:a/}", 0, "${secret:a/}", `invalid key "": must not be empty`},
	"namespace-like":         {"${secret:a/b/c}", 0, "${secret:a/b/c}", "too many '/'"},
	"only slashes":           {"${secret://}", 0, "${secret://}", "too many '/'"},
	"uppercase secret name":  {"${secret:DB/k}", 0, "${secret:DB/k}", `invalid Secret name "DB"`},
	"underscore in name":     {"${secret:my_db/k}", 0, "${secret:my_db/k}", `invalid Secret name "my_db"`},
	"name starts with dash":  {"${secret:-a/k}", 0, "${secret:-a/k}", `invalid Secret name "-a"`},
	"name ends with dash":    {"${secret:a-/k}", 0, "${secret:a-/k}", `invalid Secret name "a-"`},
	"name ends with dot":     {"${secret:a./k}", 0, "${secret:a./k}", `invalid Secret name "a."`},
	"label ends with dash":   {"${secret:a-.b/k}", 0, "${secret:a-.b/k}", `invalid Secret name "a-.b"`},
	"empty label":            {"${secret:a..b/k}", 0, "${secret:a..b/k}", `invalid Secret name "a..b"`},
	"whitespace in name":     {"${secret: a/k}", 0, "${secret: a/k}", `invalid Secret name " a"`},
	"name too long": {
		"${secret:a" + longName + "/k}", 0, "${secret:" + strings.Repeat("a", 55) + "...",
		"invalid Secret name",
	},
	"key with colon":           {"${secret:a/k:v}", 0, "${secret:a/k:v}", `invalid key "k:v"`},
	"key with trailing space":  {"${secret:a/k }", 0, "${secret:a/k }", `invalid key "k "`},
	"key is dot":               {"${secret:a/.}", 0, "${secret:a/.}", `invalid key ".": must not be "."`},
	"key is two dots":          {"${secret:a/..}", 0, "${secret:a/..}", `invalid key "..": must not be ".."`},
	"key starts with two dots": {"${secret:a/..x}", 0, "${secret:a/..x}", `invalid key "..x": must not start with '..'`},
	"key too long": {
		"${secret:a/" + longKey + "K}", 0, "${secret:a/" + strings.Repeat("K", 53) + "...",
		`invalid key "KKK`,
	},
	"managed with space": {"${secret:my secret}", 0, "${secret:my secret}", `invalid managed secret name "my secret"`},
	"managed is dot":     {"${secret:.}", 0, "${secret:.}", `invalid managed secret name "."`},
	"nested reference": {
		"${secret:a${secret:b}}", 0, "${secret:a${secret:b}", `invalid managed secret name "a${secret:b"`,
	},
	"error after valid ref": {"${secret:a} and ${HOME}", 16, "${HOME}", "unknown reference kind"},
	"escape does not hide later error": {
		"$${ok} ${bad}", 7, "${bad}", "unknown reference kind",
	},
	"long fragment truncated": {
		"${secret:" + strings.Repeat("a", 100), 0, "${secret:" + strings.Repeat("a", 55) + "...",
		"unterminated reference",
	},
	// Byte 64 falls inside a two-byte rune, so the cut moves back to byte 63.
	"truncation keeps utf-8 valid": {
		"$<x" + strings.Repeat("ä", 40), 0, "$<x" + strings.Repeat("ä", 30) + "...",
		"unterminated reference",
	},
}

func TestParseErrors(t *testing.T) {
	for name, tc := range parseErrorTests {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(tc.in)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %s, %v; want *SyntaxError", tc.in, dump(got), err)
			}
			if got != nil {
				t.Errorf("Parse returned %s alongside an error", dump(got))
			}
			if se.Offset != tc.offset {
				t.Errorf("Offset = %d, want %d", se.Offset, tc.offset)
			}
			if se.Text != tc.text {
				t.Errorf("Text = %q, want %q", se.Text, tc.text)
			}
			if !strings.HasPrefix(se.Reason, tc.reason) {
				t.Errorf("Reason = %q, want prefix %q", se.Reason, tc.reason)
			}
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse("postgres://u${secret:db")
	want := `at offset 12: unterminated reference "${secret:db"`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestRef(t *testing.T) {
	tests := map[string]struct {
		ref         Ref
		wantManaged bool
		wantString  string
	}{
		"managed":  {Ref{Key: "db-password"}, true, "${secret:db-password}"},
		"external": {Ref{SecretName: "db", Key: "pass.word"}, false, "${secret:db/pass.word}"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.ref.Managed(); got != tc.wantManaged {
				t.Errorf("Managed() = %v, want %v", got, tc.wantManaged)
			}
			if got := tc.ref.String(); got != tc.wantString {
				t.Errorf("String() = %q, want %q", got, tc.wantString)
			}
		})
	}
}

func TestValueAccessors(t *testing.T) {
	tests := map[string]struct {
		in         string
		wantRefs   []Ref
		wantSingle bool
	}{
		"empty":               {"", nil, false},
		"literal only":        {"abc $${secret:a}", nil, false},
		"single ref":          {"${secret:a/b}", []Ref{{SecretName: "a", Key: "b"}}, true},
		"single ref angle":    {"$<secret:m>", []Ref{{Key: "m"}}, true},
		"ref with prefix":     {"x${secret:a/b}", []Ref{{SecretName: "a", Key: "b"}}, false},
		"ref with suffix":     {"${secret:a/b}x", []Ref{{SecretName: "a", Key: "b"}}, false},
		"same ref twice":      {"${secret:m}$<secret:m>", []Ref{{Key: "m"}}, false},
		"managed vs external": {"${secret:k}${secret:s/k}", []Ref{{Key: "k"}, {SecretName: "s", Key: "k"}}, false},
		"order of first appearance": {
			"${secret:b}-${secret:a/x}-${secret:b}-${secret:c}-${secret:a/x}",
			[]Ref{{Key: "b"}, {SecretName: "a", Key: "x"}, {Key: "c"}},
			false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := v.Refs(); !reflect.DeepEqual(got, tc.wantRefs) {
				t.Errorf("Refs() = %v, want %v", got, tc.wantRefs)
			}
			if got, want := v.HasRefs(), len(tc.wantRefs) > 0; got != want {
				t.Errorf("HasRefs() = %v, want %v", got, want)
			}
			ref, ok := v.SingleRef()
			if ok != tc.wantSingle {
				t.Fatalf("SingleRef() ok = %v, want %v", ok, tc.wantSingle)
			}
			if ok && ref != tc.wantRefs[0] {
				t.Errorf("SingleRef() = %v, want %v", ref, tc.wantRefs[0])
			}
			if !ok && ref != (Ref{}) {
				t.Errorf("SingleRef() = %v alongside false, want zero Ref", ref)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := map[string]struct {
		in   Value
		want string
	}{
		"empty":            {nil, ""},
		"plain":            {Value{lit("a$b$$c")}, "a$b$$c"},
		"literal brace":    {Value{lit("${HOME}")}, "$${HOME}"},
		"literal angle":    {Value{lit("$<x>")}, "$$<x>"},
		"dollar and brace": {Value{lit("$${")}, "$$${"},
		"refs canonical": {
			Value{lit("u:"), external("a", "b"), lit("@"), managed("m")},
			"u:${secret:a/b}@${secret:m}",
		},
		// Parse never yields adjacent literals, but a "${" spanning two of
		// them must still be escaped.
		"escape across adjacent literals": {Value{lit("a$"), lit("{b")}, "a$${b"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Format(tc.in); got != tc.want {
				t.Errorf("Format(%s) = %q, want %q", dump(tc.in), got, tc.want)
			}
		})
	}
}

func TestFormatCanonicalizesSpelling(t *testing.T) {
	v, err := Parse("$<secret:a/b> $$< $<secret:m>")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Format(v), "${secret:a/b} $$< ${secret:m}"; got != want {
		t.Errorf("Format = %q, want %q", got, want)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for name, tc := range parseTests {
		t.Run(name, func(t *testing.T) {
			checkRoundTrip(t, tc.want)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseTests {
		f.Add(tc.in)
	}
	for _, tc := range parseErrorTests {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", s, err)
			}
			if se.Offset < 0 || se.Offset >= len(s) || s[se.Offset] != '$' {
				t.Fatalf("Parse(%q): Offset %d does not point at a '$'", s, se.Offset)
			}
			if !strings.HasPrefix(s[se.Offset:], strings.TrimSuffix(se.Text, "...")) {
				t.Fatalf("Parse(%q): Text %q is not the input at offset %d", s, se.Text, se.Offset)
			}
			if len(se.Text) > maxErrorText+len("...") {
				t.Fatalf("Parse(%q): Text %q too long", s, se.Text)
			}
			return
		}
		for i, seg := range v {
			if seg.Ref == nil {
				if seg.Literal == "" {
					t.Fatalf("Parse(%q): empty literal segment %d", s, i)
				}
				if i > 0 && v[i-1].Ref == nil {
					t.Fatalf("Parse(%q): adjacent literal segments at %d", s, i)
				}
				continue
			}
			if seg.Ref.SecretName != "" {
				if err := validateSecretName(seg.Ref.SecretName); err != nil {
					t.Fatalf("Parse(%q): invalid Secret name %q accepted: %v", s, seg.Ref.SecretName, err)
				}
			}
			if err := validateKey(seg.Ref.Key); err != nil {
				t.Fatalf("Parse(%q): invalid key %q accepted: %v", s, seg.Ref.Key, err)
			}
		}
		checkRoundTrip(t, v)
	})
}

func checkRoundTrip(t *testing.T, v Value) {
	t.Helper()
	formatted := Format(v)
	got, err := Parse(formatted)
	if err != nil {
		t.Fatalf("Parse(Format(%s)) = Parse(%q): %v", dump(v), formatted, err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("Parse(Format(%s)) = Parse(%q) = %s", dump(v), formatted, dump(got))
	}
}

// dump renders a Value readably; %v would print Ref pointers as addresses.
func dump(v Value) string {
	if v == nil {
		return "nil"
	}
	parts := make([]string, len(v))
	for i, s := range v {
		if s.Ref != nil {
			parts[i] = "ref" + s.Ref.String()
		} else {
			parts[i] = fmt.Sprintf("lit%q", s.Literal)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}
