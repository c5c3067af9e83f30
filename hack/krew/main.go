// Command krew builds the archives of kubectl blueprint that the krew
// manifest (.krew.yaml, a krew-release-bot template) names, and renders the
// manifest with their sha256:
//
//	go run ./hack/krew -tag v0.1.0 -dir dist/krew
//
// Each archive holds the plugin binary, built with CGO_ENABLED=0 and
// -trimpath, and the README; tar.gz for Linux and macOS, zip for Windows.
// Archive headers carry no time, owner or build path, so the same source
// and Go version give the same bytes.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Platforms are the os/arch pairs the manifest offers.
var Platforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

func main() {
	tag := flag.String("tag", "v0.1.0", "the release tag: the manifest's version and the download path")
	dir := flag.String("dir", "dist/krew", "where the archives and the rendered manifest go")
	manifest := flag.String("manifest", ".krew.yaml", "the krew-release-bot template of the manifest")
	flag.Parse()
	if err := run(*tag, *dir, *manifest); err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		os.Exit(1)
	}
}

func run(tag, dir, manifestPath string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		return err
	}
	for _, p := range Platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		bin := filepath.Join(dir, "build", goos+"-"+goarch, BinaryName(goos))
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "./cmd/kubectl-blueprint")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building for %s: %w", p, err)
		}
		binary, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		archive, err := Archive(goos, binary, readme)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, ArchiveName(goos, goarch)), archive, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s\n", filepath.Join(dir, ArchiveName(goos, goarch)))
	}
	if err := os.RemoveAll(filepath.Join(dir, "build")); err != nil {
		return err
	}
	tmpl, err := os.ReadFile(manifestPath)
	if err != nil {
		return err
	}
	rendered, err := Render(string(tmpl), tag, dir)
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "blueprint.yaml")
	fmt.Println(out)
	return os.WriteFile(out, rendered, 0o644)
}

// BinaryName is the plugin's file name on goos.
func BinaryName(goos string) string {
	if goos == "windows" {
		return "kubectl-blueprint.exe"
	}
	return "kubectl-blueprint"
}

// ArchiveName is the file name of the archive for goos/goarch.
func ArchiveName(goos, goarch string) string {
	if goos == "windows" {
		return "kubectl-blueprint_" + goos + "_" + goarch + ".zip"
	}
	return "kubectl-blueprint_" + goos + "_" + goarch + ".tar.gz"
}

// epoch is the time of every archive entry: none of the build's.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Archive packs the binary for goos and the README.
func Archive(goos string, binary, readme []byte) ([]byte, error) {
	files := []struct {
		name string
		mode int64
		data []byte
	}{{BinaryName(goos), 0o755, binary}, {"README.md", 0o644, readme}}
	var buf bytes.Buffer
	if goos == "windows" {
		zw := zip.NewWriter(&buf)
		for _, f := range files {
			h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: epoch}
			h.SetMode(os.FileMode(f.mode))
			w, err := zw.CreateHeader(h)
			if err != nil {
				return nil, err
			}
			if _, err := w.Write(f.data); err != nil {
				return nil, err
			}
		}
		err := zw.Close()
		return buf.Bytes(), err
	}
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	err := gz.Close()
	return buf.Bytes(), err
}

// innerTag is the {{ .TagName }} inside addURIAndSha's first argument,
// which krew-release-bot fills in before it downloads the URL.
var innerTag = regexp.MustCompile(`\{\{\s*\.TagName\s*\}\}`)

// Render fills in the krew-release-bot template tmpl for tag, with the sha256
// of each archive, found in dir under the URL's file name.
func Render(tmpl, tag, dir string) ([]byte, error) {
	// The URL argument holds {{ .TagName }} inside a string, which
	// text/template would not parse: fill it in first, as the bot does.
	tmpl = regexp.MustCompile(`addURIAndSha "([^"]*)"`).ReplaceAllStringFunc(tmpl, func(call string) string {
		return innerTag.ReplaceAllString(call, tag)
	})
	t, err := template.New("krew").Funcs(template.FuncMap{
		"addURIAndSha": func(url, _ string) (string, error) {
			b, err := os.ReadFile(filepath.Join(dir, path.Base(url)))
			if err != nil {
				return "", fmt.Errorf("the manifest names %s, which was not built: %w", path.Base(url), err)
			}
			sum := sha256.Sum256(b)
			return "uri: " + url + "\n    sha256: " + hex.EncodeToString(sum[:]), nil
		},
	}).Parse(tmpl)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, struct{ TagName string }{tag}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
