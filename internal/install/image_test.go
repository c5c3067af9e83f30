package install

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestChartImageFollowsAppVersion: with no tag set, the chart runs the
// manager its appVersion names, never a floating tag; a tag set wins.
func TestChartImageFollowsAppVersion(t *testing.T) {
	raw, err := os.ReadFile(chartDir + "/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(raw, &chart); err != nil {
		t.Fatal(err)
	}
	if chart.AppVersion == "" || chart.AppVersion == "latest" {
		t.Fatalf("appVersion %q names no version", chart.AppVersion)
	}
	deployment := key{"Deployment", namespace, "controller-manager"}
	if got := managerContainer(t, renderChart(t, nil)[deployment])["image"]; got != "ghcr.io/stax-dev/blueprint-operator:"+chart.AppVersion {
		t.Errorf("default image %v, want the appVersion %s", got, chart.AppVersion)
	}
	set := map[string]any{"manager": map[string]any{"image": map[string]any{"tag": "v9.9.9"}}}
	if got := managerContainer(t, renderChart(t, set)[deployment])["image"]; got != "ghcr.io/stax-dev/blueprint-operator:v9.9.9" {
		t.Errorf("image with a tag set: %v", got)
	}
}

// TestDockerfileReproducible: the manager is built with -trimpath, without
// forcing a rebuild (-a), with the build ID and VCS stamp left out, and the
// base images are build arguments a release can pin by digest.
func TestDockerfileReproducible(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// The RUN instruction that builds, joined across continuation lines.
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	var build string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build") {
			build = line
		}
	}
	if build == "" {
		t.Fatal("no RUN ... go build in the Dockerfile")
	}
	flags := strings.Fields(build[strings.Index(build, "go build"):])
	for _, want := range []string{"-trimpath", "-buildvcs=false"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build lacks %s: %s", want, build)
		}
	}
	if !regexp.MustCompile(`-ldflags="[^"]*-buildid=(\s|")`).MatchString(build) {
		t.Errorf("the build keeps the linker's build ID: %s", build)
	}
	for _, f := range flags {
		if f == "-a" {
			t.Errorf("the build forces a full rebuild (-a): %s", build)
		}
	}
	for _, from := range regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(string(raw), -1) {
		if !strings.HasPrefix(from[1], "${") {
			t.Errorf("FROM %s is not a build argument a release can pin by digest", from[1])
		}
	}
}
