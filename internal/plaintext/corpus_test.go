package plaintext

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/cmd/generate/secrets"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// tokenFormats are the token formats of the rules admission runs, written as
// gitleaks' own rule files write their true positives (prefix plus a
// generated body, cmd/generate/config/rules), plus a few of gitleaks' other
// rules that only the operator runs.
var tokenFormats = []struct{ rule, prefix, body string }{
	{"github-pat", "ghp_", `[0-9a-zA-Z]{36}`},
	{"github-fine-grained-pat", "github_pat_", `[0-9a-zA-Z_]{82}`},
	{"github-oauth", "gho_", `[0-9a-zA-Z]{36}`},
	{"github-app-token", "ghs_", `[0-9a-zA-Z]{36}`},
	{"github-refresh-token", "ghr_", `[0-9a-zA-Z]{36}`},
	{"gitlab-pat", "glpat-", `[0-9a-zA-Z_-]{20}`},
	{"slack-bot-token", "xoxb-", `[0-9]{12}-[0-9]{13}-[a-zA-Z0-9]{24}`},
	{"slack-user-token", "xoxp-", `[0-9]{11}-[0-9]{10}-[0-9]{11}-[a-f0-9]{32}`},
	{"slack-webhook-url", "https://hooks.slack.com/services/", `T[A-Z0-9]{8}/B[A-Z0-9]{8}/[a-zA-Z0-9]{24}`},
	{"stripe-access-token", "sk_live_", `[a-z0-9]{30}`},
	{"stripe-access-token", "rk_prod_", `[a-z0-9]{40}`},
	{"aws-access-token", "AKIA", `[A-Z2-7]{16}`},
	{"openai-api-key", "sk-", `[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20}`},
	{"anthropic-api-key", "sk-ant-api03-", `[a-zA-Z0-9_-]{93}AA`},
	{"npm-access-token", "npm_", `[a-z0-9]{36}`},
	{"pypi-upload-token", "pypi-AgEIcHlwaS5vcmc", `[a-f0-9]{64}`},
	{"sendgrid-api-token", "SG.", `[a-z0-9=_-]{66}`},
	{"gcp-api-key", "AIza", `[a-zA-Z0-9_-]{35}`},
	{"shopify-access-token", "shpat_", `[a-f0-9]{32}`},
	{"digitalocean-pat", "dop_v1_", `[a-f0-9]{64}`},
	{"digitalocean-access-token", "doo_v1_", `[a-f0-9]{64}`},
	{"hashicorp-tf-api-token", "", `[a-f0-9]{14}\.atlasv1\.[a-z0-9=_-]{64}`},
	{"doppler-api-token", "dp.pt.", `[a-z0-9]{43}`},
	{"age-secret-key", "AGE-SECRET-KEY-1", `[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`},
	{"huggingface-access-token", "hf_", `[a-zA-Z]{34}`},
	{"grafana-service-account-token", "glsa_", `[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}`},
	{"linear-api-key", "lin_api_", `[a-z0-9]{40}`},
	{"pulumi-api-token", "pul-", `[a-f0-9]{40}`},
	{"postman-api-token", "PMAK-", `[a-f0-9]{24}-[a-f0-9]{34}`},
	// Rules only the operator runs (gitleaks' whole set).
	{"gitlab-runner-authentication-token", "glrt-", `[0-9a-zA-Z_-]{20}`},
	{"databricks-api-token", "dapi", `[a-f0-9]{32}`},
	{"slack-app-token", "xapp-1-", `A[A-Z0-9]{10}-[0-9]{13}-[a-f0-9]{64}`},
}

// privateKeyPEM is an EC key as openssl writes it, which fits an env value.
func privateKeyPEM(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// negatives are values of the kinds a service's env holds that are not
// credentials, under names of every kind, including names that mention a
// credential.
func negatives() map[string][]string {
	return map[string][]string{
		"LOG_LEVEL":                   {"debug", "info", "warn", "error", "trace", "INFO"},
		"NODE_ENV":                    {"production", "development", "test"},
		"PORT":                        {"80", "8080", "3000", "5432", "6379"},
		"HOST":                        {"0.0.0.0", "localhost", "db", "redis.default.svc.cluster.local", "api.example.com"},
		"PUBLIC_URL":                  {"https://shop.example.com/checkout", "http://localhost:3000", "https://example.com/a/b?c=d&e=f"},
		"DATABASE_URL":                {"postgres://db:5432/app", "postgres://app@db:5432/app?sslmode=disable", "mysql://root@mysql:3306/app", "postgres://postgres:${secret:db-password}@db:5432/app"},
		"REDIS_URL":                   {"redis://cache:6379/0", "redis://:${secret:redis/password}@cache:6379"},
		"AMQP_URL":                    {"amqp://rabbit:5672/", "amqp://$(USER):$(PASS)@rabbit/"},
		"PASSWORD_MIN_LENGTH":         {"8", "12", "16"},
		"POSTGRES_PASSWORD_FILE":      {"/run/secrets/db-password", "/var/run/secrets/pg"},
		"MYSQL_ROOT_PASSWORD_FILE":    {"/run/secrets/mysql-root"},
		"TOKEN_TTL":                   {"3600", "15m", "24h"},
		"SESSION_SECRET_ROTATION":     {"24h", "720h"},
		"AWS_ACCESS_KEY_ID":           {"AKIDEXAMPLEID"},
		"AWS_REGION":                  {"eu-west-1", "us-east-1"},
		"OAUTH_CLIENT_ID":             {"3f2b8c1e-4d5a-4e6f-9a7b-1c2d3e4f5a6b", "my-app"},
		"AUTH_CLIENT_ID":              {"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"},
		"OAUTH_TOKEN_URL":             {"https://auth.example.com/oauth/token"},
		"JWT_ISSUER":                  {"https://auth.example.com/"},
		"JWT_ALGORITHM":               {"RS256", "HS256", "EdDSA"},
		"TOKENIZER_MODEL":             {"bert-base-uncased", "gpt2"},
		"AUTH_MODE":                   {"token", "password", "oidc"},
		"PASSWORD_REQUIRED":           {"true", "false", "yes", "no"},
		"SECRETS_DIR":                 {"/run/secrets", "./secrets"},
		"SECRET_NAME":                 {"db-credentials", "stripe"},
		"API_KEY_HEADER":              {"X-Api-Key", "Authorization"},
		"DB_USER":                     {"app", "postgres", "orders"},
		"DB_NAME":                     {"app", "payments"},
		"API_KEY":                     {"", "${secret:stripe/api-key}", "$<secret:stripe/api-key>"},
		"DB_PASSWORD":                 {"${secret:db-password}"},
		"FEATURE_FLAGS":               {"checkout-v2,fast-search", `{"beta":true,"limit":10}`},
		"JAVA_OPTS":                   {"-Xmx512m -XX:+UseG1GC", "-Dspring.profiles.active=prod"},
		"TZ":                          {"Europe/Berlin", "UTC"},
		"IMAGE":                       {"ghcr.io/example/api:1.4.2", "postgres:16-alpine"},
		"GIT_SHA":                     {"0123456789abcdef0123456789abcdef01234567", "a1b2c3d"},
		"BUILD_ID":                    {"2026-12-05T19:30:00Z", "1234"},
		"CORS_ORIGINS":                {"https://a.example.com,https://b.example.com"},
		"SMTP_HOST":                   {"smtp.example.com"},
		"ADMIN_EMAIL":                 {"ops@example.com"},
		"WORKERS":                     {"4", "auto"},
		"MAX_BODY_SIZE":               {"10Mi", "1048576"},
		"PGDATA":                      {"/var/lib/postgresql/data/pgdata"},
		"PGHOST":                      {"db"},
		"KAFKA_BROKERS":               {"kafka-0.kafka:9092,kafka-1.kafka:9092"},
		"S3_BUCKET":                   {"my-app-uploads"},
		"SENTRY_ENVIRONMENT":          {"staging"},
		"OTEL_EXPORTER_OTLP_ENDPOINT": {"http://otel-collector:4317"},
		"GOMAXPROCS":                  {"2"},
		"PATH_PREFIX":                 {"/api/v1"},
		"TRUSTED_PROXIES":             {"10.0.0.0/8,172.16.0.0/12"},
		"CACHE_KEY_PREFIX":            {"app:v2:"},
		"MESSAGE":                     {"Hello, world", "Welcome to the payments API"},
	}
}

// corpusBlueprints reads every Blueprint of the repository's examples,
// samples, README and docs, and the hostile corpus but for the cases that
// are about the guard.
func corpusBlueprints(t *testing.T) map[string]*staxv1alpha1.Blueprint {
	t.Helper()
	root := filepath.Join("..", "..")
	var files []string
	for _, pattern := range []string{"examples/*.yaml", "config/samples/*.yaml", "test/hostile/cases/*.yaml", "README.md", "docs/*.md"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	yamlBlock := regexp.MustCompile("(?s)```ya?ml\n(.*?)```")
	out := map[string]*staxv1alpha1.Blueprint{}
	for _, f := range files {
		if strings.Contains(filepath.Base(f), "plaintext") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := []string{string(b)}
		if strings.HasSuffix(f, ".md") {
			docs = nil
			for _, m := range yamlBlock.FindAllStringSubmatch(string(b), -1) {
				docs = append(docs, m[1])
			}
		}
		for i, doc := range docs {
			reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(doc)))
			for n := 0; ; n++ {
				raw, err := reader.Read()
				if err != nil {
					break
				}
				bp := &staxv1alpha1.Blueprint{}
				if yaml.Unmarshal(raw, bp) != nil || bp.Kind != "Blueprint" {
					continue
				}
				out[fmt.Sprintf("%s#%d.%d", f, i, n)] = bp
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d Blueprints in the repository: the corpus reader is broken", len(out))
	}
	return out
}

// TestGuardCorpus measures the guard: recall on token formats, URLs and
// credential-named variables, and false positives on every env value of the
// repository's Blueprints and a few hundred settings. It prints the figures.
func TestGuardCorpus(t *testing.T) {
	type category struct{ found, total int }
	recall := map[string]*category{}
	count := func(cat string, svc *staxv1alpha1.BlueprintService, want string) {
		if recall[cat] == nil {
			recall[cat] = &category{}
		}
		recall[cat].total++
		f := Service(svc, nil)
		if len(f) > 0 {
			recall[cat].found++
			if want != "" && f[0].Rule != want {
				t.Logf("%s: found by %s, expected %s", cat, f[0].Rule, want)
			}
			return
		}
		t.Errorf("%s: %s missed", cat, want)
	}
	env := func(name, value string) *staxv1alpha1.BlueprintService {
		return &staxv1alpha1.BlueprintService{Name: "api", Env: map[string]staxv1alpha1.EnvValue{name: staxv1alpha1.EnvValue(value)}}
	}

	for _, f := range tokenFormats {
		for range 5 {
			value := f.prefix + secrets.NewSecret(f.body)
			cat := "token formats, run at admission"
			if !slices.Contains(AdmissionRuleIDs, f.rule) {
				cat = "token formats, operator only"
			}
			// As the value of a neutral name, and as an argument.
			count(cat, env("CONFIG", value), f.rule)
			count(cat, &staxv1alpha1.BlueprintService{Name: "api", Args: []staxv1alpha1.EnvValue{staxv1alpha1.EnvValue(value)}}, f.rule)
		}
	}
	count("token formats, run at admission", env("SIGNING_KEY_PEM", privateKeyPEM(t)), "private-key")

	for range 50 {
		pw := secrets.NewSecret(`[a-zA-Z0-9]{8,24}`)
		count("password in a URL", env("DATABASE_URL", "postgres://app:"+pw+"@db:5432/app"), RulePasswordInURL)
		count("password in a URL", env("BROKER", "amqp://guest:"+pw+"@rabbit:5672/"), RulePasswordInURL)
	}
	// The literals compose files and .env samples use.
	for _, name := range []string{"POSTGRES_PASSWORD", "MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD", "MARIADB_ROOT_PASSWORD",
		"MONGO_INITDB_ROOT_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_DEFAULT_PASS", "JWT_SECRET", "SESSION_SECRET",
		"SECRET_KEY_BASE", "NEXTAUTH_SECRET", "GITHUB_TOKEN", "API_KEY", "CLIENT_SECRET", "PGPASSWORD", "DB_PASS", "ADMIN_PASSWORD"} {
		for _, value := range []string{"example", "secret", "password", "changeme", "s3cr3t!", "hunter2hunter2", "root"} {
			count("credential-named variables", env(name, value), "")
		}
	}

	// False positives.
	var negativeTotal, falsePositives int
	negative := func(where string, svc *staxv1alpha1.BlueprintService) {
		negativeTotal += len(svc.Env) + len(svc.Command) + len(svc.Args)
		for _, f := range Service(svc, nil) {
			falsePositives++
			t.Errorf("%s: service %s, %s flagged by %s", where, svc.Name, f.Where, f.Rule)
		}
	}
	for name, values := range negatives() {
		for _, v := range values {
			negative("settings", env(name, v))
		}
	}
	bps := corpusBlueprints(t)
	for where, bp := range bps {
		for i := range bp.Spec.Services {
			negative(where, &bp.Spec.Services[i])
		}
	}

	// Every opt-out in the repository is needed: without it, the field it
	// names is found.
	optOuts := 0
	for where, bp := range bps {
		for i := range bp.Spec.Services {
			svc := bp.Spec.Services[i].DeepCopy()
			entries := svc.AllowPlaintext
			svc.AllowPlaintext = nil
			found := map[string]bool{}
			for _, f := range Service(svc, nil) {
				found[strings.TrimPrefix(f.Where, "env ")] = true
			}
			for _, e := range entries {
				optOuts++
				if !found[e] {
					t.Errorf("%s: service %s lists %s in allowPlaintext, which the guard would not flag", where, svc.Name, e)
				}
			}
		}
	}
	if optOuts == 0 {
		t.Errorf("no Blueprint of the repository uses allowPlaintext: the examples must show it")
	}

	var lines []string
	for cat, c := range recall {
		lines = append(lines, fmt.Sprintf("plaintext guard recall, %s: %d of %d (%.1f%%)", cat, c.found, c.total, 100*float64(c.found)/float64(c.total)))
	}
	slices.Sort(lines)
	lines = append(lines, fmt.Sprintf("plaintext guard false positives: %d of %d literals (settings, and %d Blueprints of examples, samples, README, docs and the hostile corpus)",
		falsePositives, negativeTotal, len(bps)))
	for _, l := range lines {
		t.Log(l)
	}
}
