package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// manifest is the part of krew's Plugin (v1alpha2) the test reads.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// TestManifestNamesTheArchives renders the repository's .krew.yaml over the
// archives this command makes (around a stand-in binary: the real ones are
// cross-compiled by make plugin-archives) and checks that every platform's
// uri is an archive it makes, with that archive's sha256, holding the bin
// the manifest names.
func TestManifestNamesTheArchives(t *testing.T) {
	dir := t.TempDir()
	binary := []byte("stand-in binary")
	for _, p := range Platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		a, err := Archive(goos, binary, []byte("readme"))
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Archive(goos, binary, []byte("readme"))
		if !bytes.Equal(a, again) {
			t.Errorf("%s: the same input gives different archives", p)
		}
		if err := os.WriteFile(filepath.Join(dir, ArchiveName(goos, goarch)), a, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := os.ReadFile(filepath.Join("..", "..", ".krew.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := Render(string(tmpl), "v9.8.7", dir)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.UnmarshalStrict(rendered, &m); err != nil {
		t.Fatalf("the rendered manifest: %v\n%s", err, rendered)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "blueprint" || m.Spec.Version != "v9.8.7" {
		t.Errorf("manifest head: %s %s %s %s", m.APIVersion, m.Kind, m.Metadata.Name, m.Spec.Version)
	}
	if len(m.Spec.Platforms) != len(Platforms) {
		t.Fatalf("%d platforms in the manifest, %d built", len(m.Spec.Platforms), len(Platforms))
	}
	for i, p := range m.Spec.Platforms {
		goos, goarch := p.Selector.MatchLabels["os"], p.Selector.MatchLabels["arch"]
		if goos+"/"+goarch != Platforms[i] {
			t.Errorf("platform %d is %s/%s, want %s", i, goos, goarch, Platforms[i])
		}
		if want := "https://github.com/stax-dev/blueprint-operator/releases/download/v9.8.7/" + ArchiveName(goos, goarch); p.URI != want {
			t.Errorf("%s/%s: uri %s, want %s", goos, goarch, p.URI, want)
		}
		archive, err := os.ReadFile(filepath.Join(dir, path.Base(p.URI)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(archive)
		if p.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s/%s: sha256 %s is not the archive's", goos, goarch, p.SHA256)
		}
		if p.Bin != BinaryName(goos) {
			t.Errorf("%s/%s: bin %s, want %s", goos, goarch, p.Bin, BinaryName(goos))
		}
		if got := archived(t, goos, archive, p.Bin); !bytes.Equal(got, binary) {
			t.Errorf("%s/%s: the archive does not hold bin %s", goos, goarch, p.Bin)
		}
	}
}

// archived returns file name of the archive, or nil.
func archived(t *testing.T, goos string, archive []byte, name string) []byte {
	t.Helper()
	if goos == "windows" {
		zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if f.Name == name {
				r, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(r)
				return b
			}
		}
		return nil
	}
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			if h.Mode != 0o755 {
				t.Errorf("%s has mode %o, want 755", name, h.Mode)
			}
			b, _ := io.ReadAll(tr)
			return b
		}
	}
}
