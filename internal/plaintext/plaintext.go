// Package plaintext is the plaintext guard: it decides which literal texts a
// Blueprint would put into a container look like credentials, so that a
// pasted key is refused instead of being rendered into a Deployment (which
// every holder of the built-in view role can read).
//
// Three kinds of rule run:
//   - token formats: gitleaks' default rules (github.com/zricethezav/gitleaks),
//     with their keywords, entropy thresholds and allowlists;
//   - password-in-url: a literal password in a URL's userinfo
//     (scheme://user:PASSWORD@host), where the password is not a reference;
//   - credential-name: a variable whose name says it holds a credential
//     (PASSWORD, SECRET, TOKEN, API_KEY, ...) with a literal value that could
//     be one (not a number, a path, a URL, a boolean or a reference).
//
// The shipped ValidatingAdmissionPolicy (AdmissionPolicy) runs
// password-in-url, credential-name and the token formats of AdmissionRuleIDs,
// with the same regular expressions, at admission; the operator and
// `kubectl blueprint validate` run every rule (Service), so what admission
// refuses they refuse too. Findings name the field and the rule, never the
// value.
package plaintext

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	gitleakslog "github.com/zricethezav/gitleaks/v8/logging"
	"k8s.io/apimachinery/pkg/util/validation/field"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/reference"
)

// Rule ids of the guard's own rules; the others are gitleaks' rule ids.
const (
	RulePasswordInURL  = "password-in-url"
	RuleCredentialName = "credential-name"
)

// The regular expressions below are shared, as written, by the Go rules and
// the admission policy's CEL (both evaluate them with Go's RE2 engine), so the
// two cannot disagree on what they match.
const (
	// passwordInURL matches a URL whose userinfo holds a password that does
	// not start with $: a reference (${secret:...}, $<secret:...>) or a
	// placeholder ($(VAR)) is not a literal password. The user may be
	// literal or a reference.
	passwordInURL = `[A-Za-z][A-Za-z0-9+.-]*://(?:[^/\s:@$]|\$[{<]secret:[^}>]*[}>])*:[^/\s@$][^/\s@]*@`

	// credentialName matches a variable name that says it holds a
	// credential: as a whole word between underscores (TOKENIZER_MODEL is
	// not a token), or at its end (PGPASSWORD).
	credentialName = `(?i)(^|_)(PASS(WORD|WD|PHRASE)?|PWD|SECRETS?|TOKENS?|CREDENTIALS?|CREDS|(API|PRIVATE|ACCESS|AUTH|SIGNING|ENCRYPTION|MASTER|SESSION)_?KEY)(_|$)|(PASSWORD|PASSWD|SECRET|TOKEN|APIKEY)$`

	// aboutACredential matches a credential-like name that says it holds
	// something about a credential, not the credential:
	// POSTGRES_PASSWORD_FILE, PASSWORD_MIN_LENGTH, TOKEN_TTL, AWS_ACCESS_KEY_ID.
	aboutACredential = `(?i)_(FILE|PATH|DIR|LENGTH|LEN|MIN|MAX|SIZE|TTL|TIMEOUT|EXPIRY|EXPIRATION|EXPIRES|EXPIRES_IN|AGE|LIFETIME|NAME|ID|URL|URI|ENDPOINT|HOST|PORT|HEADER|FIELD|PARAM|TYPE|MODE|ALGORITHM|ALG|ENABLED|DISABLED|REQUIRED|VERSION|COUNT|LIMIT|ISSUER|AUDIENCE|SCOPE|SCOPES|REGION|POLICY|PROVIDER|ROTATION|INTERVAL|PERIOD|USER|USERNAME|LOGIN|FORMAT|ENCODING|PREFIX|LOCATION|REF|SOURCE|BACKEND|STORE|KEY_ID)$`

	// notACredential matches a value that cannot be a credential: empty or
	// under 4 characters, a number or quantity (12, 30s, 10Gi), a boolean or
	// null word, a path, a URL (a password in it is password-in-url's), one
	// that holds a reference, or a placeholder starting with $.
	notACredential = `(?is)^(\s*|.{1,3}|[0-9]+([.][0-9]+)?[a-z]{0,3}|true|false|yes|no|on|off|enabled?|disabled?|none|null|nil|(/|\./|\.\./|~/)\S*|[a-z][a-z0-9+.-]*://\S*)$|^\$|\$[{<]secret:`
)

var (
	passwordInURLRe    = regexp.MustCompile(passwordInURL)
	credentialNameRe   = regexp.MustCompile(credentialName)
	aboutACredentialRe = regexp.MustCompile(aboutACredential)
	notACredentialRe   = regexp.MustCompile(notACredential)
)

// AdmissionRuleIDs are the gitleaks rules the admission policy runs: token
// formats with a fixed prefix, common in .env files, whose expressions fit
// the API server's CEL cost budget. Admission runs them without gitleaks'
// entropy thresholds and allowlists (CEL has neither), so it may refuse a
// look-alike the full rule set lets through; the operator applies the same
// expressions too, so both always agree.
var AdmissionRuleIDs = []string{
	"github-pat", "github-fine-grained-pat", "github-oauth", "github-app-token", "github-refresh-token",
	"gitlab-pat", "slack-bot-token", "slack-user-token", "slack-app-token", "slack-webhook-url",
	"stripe-access-token", "aws-access-token", "private-key", "openai-api-key", "anthropic-api-key",
	"anthropic-admin-api-key", "npm-access-token", "pypi-upload-token", "sendgrid-api-token", "gcp-api-key",
	"shopify-access-token", "digitalocean-pat", "digitalocean-access-token", "hashicorp-tf-api-token",
	"doppler-api-token", "age-secret-key", "huggingface-access-token", "grafana-service-account-token",
	"linear-api-key", "pulumi-api-token", "postman-api-token",
}

// Finding is one literal of a service that looks like a credential.
type Finding struct {
	// Field is the literal's path, as the API server spells it, below the
	// service's path given to Service: ...env[STRIPE_KEY], ...args[1],
	// ...secrets[0].onRotate.env[X], ...probes.readiness.exec.command[2].
	Field *field.Path
	// Where names the field for a person: "env STRIPE_KEY", "args[1]",
	// "secret db-password, onRotate.env X".
	Where string
	// Rule is the id of the rule that matched.
	Rule string
}

// literal is one text of a service that reaches a container.
type literal struct {
	path  *field.Path
	where string
	// text is the whole text: the env value, the item of a list.
	text string
	// name and value: text read as a variable (an env entry, or an item
	// --name=value), for credential-name; name is empty for other texts.
	name, value string
	// subject is what gitleaks scans: NAME=VALUE for an env entry, so that
	// its keyword rules see the name; the item itself otherwise.
	subject string
	// refs: the text may hold references (env, command and args of a
	// service and env of a hook do); they are blanked out for gitleaks.
	refs bool
	// optIn is the allowPlaintext entry that skips it; empty where there
	// is no opt-out (hooks, probes).
	optIn string
}

func envLiteral(path *field.Path, where, name, text string, optIn string) literal {
	return literal{path: path, where: where, text: text, name: name, value: text, subject: name + "=" + text, refs: true, optIn: optIn}
}

func itemLiteral(path *field.Path, where, text string, refs bool, optIn string) literal {
	l := literal{path: path, where: where, text: text, subject: text, refs: refs, optIn: optIn}
	l.name, l.value = flag(text)
	return l
}

// Service returns what the guard finds in the literal texts svc, at path,
// puts into a container: env values, command and args, its onRotate hooks'
// env, command and args, and its probes' exec commands; entries of
// allowPlaintext are skipped. Findings come in the order of the fields, one
// per field.
func Service(svc *staxv1alpha1.BlueprintService, path *field.Path) []Finding {
	var findings []Finding
	for _, l := range literals(svc, path) {
		if l.optIn != "" && slices.Contains(svc.AllowPlaintext, l.optIn) {
			continue
		}
		if rule := match(l); rule != "" {
			findings = append(findings, Finding{Field: l.path, Where: l.where, Rule: rule})
		}
	}
	return findings
}

func literals(svc *staxv1alpha1.BlueprintService, path *field.Path) []literal {
	var ls []literal
	for _, k := range slices.Sorted(maps.Keys(svc.Env)) {
		ls = append(ls, envLiteral(path.Child("env").Key(k), "env "+k, k, string(svc.Env[k]), k))
	}
	for _, list := range []struct {
		name  string
		items []staxv1alpha1.EnvValue
	}{{"command", svc.Command}, {"args", svc.Args}} {
		for i, item := range list.items {
			where := fmt.Sprintf("%s[%d]", list.name, i)
			ls = append(ls, itemLiteral(path.Child(list.name).Index(i), where, string(item), true, where))
		}
	}
	for j, s := range svc.Secrets {
		hook := path.Child("secrets").Index(j).Child("onRotate")
		prefix := "secret " + s.Name + ", onRotate."
		for _, k := range slices.Sorted(maps.Keys(s.OnRotate.Env)) {
			ls = append(ls, envLiteral(hook.Child("env").Key(k), prefix+"env "+k, k, string(s.OnRotate.Env[k]), ""))
		}
		for _, list := range []struct {
			name  string
			items []string
		}{{"command", s.OnRotate.Command}, {"args", s.OnRotate.Args}} {
			for i, item := range list.items {
				ls = append(ls, itemLiteral(hook.Child(list.name).Index(i), fmt.Sprintf("%s%s[%d]", prefix, list.name, i), item, false, ""))
			}
		}
	}
	if p := svc.Probes; p != nil {
		for _, probe := range []struct {
			name string
			p    *staxv1alpha1.ServiceProbe
		}{{"readiness", p.Readiness}, {"liveness", p.Liveness}, {"startup", p.Startup}} {
			if probe.p == nil {
				continue
			}
			for i, item := range probe.p.Exec.Command {
				where := fmt.Sprintf("probes.%s.exec.command[%d]", probe.name, i)
				ls = append(ls, itemLiteral(path.Child("probes", probe.name, "exec", "command").Index(i), where, item, false, ""))
			}
		}
	}
	return ls
}

// flag reads an item --db-password=VALUE (or name=VALUE) as variable
// DB_PASSWORD with value VALUE, so that credential-name sees flags as it
// sees env. An item with whitespace after the = is a script or a sentence,
// not a flag; quotes around VALUE are dropped.
func flag(item string) (name, value string) {
	name, value, ok := strings.Cut(strings.TrimLeft(item, "-"), "=")
	if !ok || !flagNameRe.MatchString(name) || strings.ContainsAny(value, " \t\n") {
		return "", ""
	}
	if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		value = value[1 : len(value)-1]
	}
	return strings.ReplaceAll(name, "-", "_"), value
}

var flagNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// match returns the id of the first rule that l matches, or "".
func match(l literal) string {
	if passwordInURLRe.MatchString(l.text) {
		return RulePasswordInURL
	}
	if id := admissionToken(l.text); id != "" {
		return id
	}
	if CredentialName(l.name, l.value) {
		return RuleCredentialName
	}
	return gitleaksRule(l)
}

// CredentialName reports whether variable name, set to value, is named like
// a credential and holds a literal that could be one.
func CredentialName(name, value string) bool {
	return name != "" && credentialNameRe.MatchString(name) && !aboutACredentialRe.MatchString(name) && !notACredentialRe.MatchString(value)
}

// admissionToken returns the first rule of AdmissionRuleIDs whose expression
// matches text.
func admissionToken(text string) string {
	for _, r := range admissionRules() {
		if r.Regex.MatchString(text) {
			return r.RuleID
		}
	}
	return ""
}

// gitleaksRule runs gitleaks' whole default rule set on the literal parts of
// l (references blanked out), as NAME=VALUE for a variable so that its
// keyword rules see the name.
func gitleaksRule(l literal) string {
	text := l.subject
	if l.refs {
		if v, err := reference.Parse(text); err == nil {
			var b strings.Builder
			for _, seg := range v {
				if seg.Ref != nil {
					b.WriteByte(' ')
					continue
				}
				b.WriteString(seg.Literal)
			}
			text = b.String()
		}
	}
	findings := detector().DetectString(text)
	if len(findings) == 0 {
		return ""
	}
	// Report the most specific rule: gitleaks' generic rule matches
	// wherever a keyword and a high-entropy word meet, so a variable named
	// about a credential (OAUTH_CLIENT_ID, TOKEN_URL) is left to the other
	// rules.
	ids := make([]string, 0, len(findings))
	for _, f := range findings {
		if f.RuleID == genericRule && aboutACredentialRe.MatchString(l.name) {
			continue
		}
		ids = append(ids, f.RuleID)
	}
	if len(ids) == 0 {
		return ""
	}
	slices.Sort(ids)
	for _, id := range ids {
		if id != genericRule {
			return id
		}
	}
	return ids[0]
}

// genericRule is gitleaks' rule for a keyword next to a high-entropy word.
const genericRule = "generic-api-key"

var (
	detectorOnce sync.Once
	gitleaks     *detect.Detector
	admission    []config.Rule
)

// detector loads gitleaks' default configuration once (about 14 MiB and a
// quarter of a second), on the first scan. gitleaks' own logger is silenced:
// at debug level it would log what it found.
func detector() *detect.Detector {
	detectorOnce.Do(func() {
		gitleakslog.Logger = zerolog.Nop()
		d, err := detect.NewDetectorDefaultConfig()
		if err != nil {
			// The configuration is embedded in the gitleaks module: it
			// parses, or the module is broken.
			panic(fmt.Sprintf("gitleaks' embedded default configuration does not load: %v", err))
		}
		gitleaks = d
		for _, id := range AdmissionRuleIDs {
			r, ok := d.Config.Rules[id]
			if !ok || r.Regex == nil {
				panic(fmt.Sprintf("gitleaks has no rule %q with an expression", id))
			}
			admission = append(admission, r)
		}
	})
	return gitleaks
}

// Load loads gitleaks' configuration now rather than on the first scan:
// the manager calls it at start, so the memory it holds is part of what an
// empty manager uses, not of what its first Blueprint costs.
func Load() { detector() }

// admissionRules are the rules of AdmissionRuleIDs, in that order.
func admissionRules() []config.Rule {
	detector()
	return admission
}
