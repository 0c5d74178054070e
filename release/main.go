package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	version := fs.String("version", "", "package version (e.g. 1.2.0, or 0.0.0~git.abc123)")
	arch := fs.String("arch", "amd64", "GOARCH of the binary: amd64 or arm64")
	binary := fs.String("binary", "", "the discovery binary built for -arch")
	root := fs.String("root", ".", "the repository's root (units, examples, docs)")
	out := fs.String("out", "dist", "directory for the packages")
	formats := fs.String("formats", "deb,rpm", "package formats")
	completions := fs.String("completions", "", "directory holding discovery.bash and _discovery (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || *binary == "" {
		return errors.New("-version and -binary are required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, format := range strings.Split(*formats, ",") {
		path, err := build(format, *version, *arch, *binary, *root, *out, *completions)
		if err != nil {
			return fmt.Errorf("%s: %w", format, err)
		}
		fmt.Println(path)
	}
	return writeChecksums(*out)
}

// build writes one package and returns its path.
func build(format, version, arch, binary, root, out, completions string) (string, error) {
	stage, err := os.MkdirTemp("", "discovery-release-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	contents, err := packageContents(format, binary, root, stage)
	if err != nil {
		return "", err
	}
	if completions != "" {
		contents = append(contents,
			&files.Content{Source: filepath.Join(completions, "discovery.bash"), Destination: "/usr/share/bash-completion/completions/discovery", FileInfo: &files.ContentFileInfo{Mode: 0o644}},
			&files.Content{Source: filepath.Join(completions, "_discovery"), Destination: "/usr/share/zsh/vendor-completions/_discovery", FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	scriptPath := filepath.Join(stage, "daemon-reload.sh")
	if err := os.WriteFile(scriptPath, []byte(daemonReload), 0o755); err != nil {
		return "", err
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:        "discovery",
		Arch:        arch,
		Platform:    "linux",
		Version:     version,
		Section:     "net",
		Priority:    "optional",
		Maintainer:  "discovery maintainers <discovery@localhost>",
		Description: "DNS and load balancing for Apache Mesos: mesos-dns and marathon-lb in one binary",
		Homepage:    "https://github.com/discovery-mesos/discovery",
		License:     "Apache-2.0",
		Overridables: nfpm.Overridables{
			Contents: contents,
			// systemd learns of the new or changed units; nothing is enabled
			// or started: the operator writes /etc/discovery/config.json first.
			Scripts: nfpm.Scripts{PostInstall: scriptPath, PostRemove: scriptPath},
			// The load balancer roles drive Debian's HAProxy; DNS needs none.
			Suggests: []string{"haproxy"},
		},
	})
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", err
	}
	pkgr, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	name := filepath.Join(out, pkgr.ConventionalFileName(info))
	f, err := os.Create(name)
	if err != nil {
		return "", err
	}
	if err := pkgr.Package(info, f); err != nil {
		f.Close()
		return "", err
	}
	return name, f.Close()
}

// daemonReload runs after install and removal.
const daemonReload = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
`

// packageContents lays the files out. The units are the repository's, with
// the binary at /usr/bin (a package's place) instead of /usr/local/bin (where
// deploy/README.md installs a build by hand); they go where each family
// keeps packaged units.
func packageContents(format, binary, root, stage string) (files.Contents, error) {
	unitDir := "/lib/systemd/system"
	if format == "rpm" {
		unitDir = "/usr/lib/systemd/system"
	}
	c := files.Contents{
		{Source: binary, Destination: "/usr/bin/discovery", FileInfo: &files.ContentFileInfo{Mode: 0o755}},
		// Template files the operator adds; the LB units watch it.
		{Destination: "/etc/discovery/templates", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o755}},
	}
	units, err := filepath.Glob(filepath.Join(root, "deploy/systemd/*.service"))
	if err != nil || len(units) == 0 {
		return nil, fmt.Errorf("no units under %s/deploy/systemd", root)
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			return nil, err
		}
		staged := filepath.Join(stage, filepath.Base(u))
		if err := os.WriteFile(staged, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/discovery", "/usr/bin/discovery")), 0o644); err != nil {
			return nil, err
		}
		c = append(c, &files.Content{Source: staged, Destination: unitDir + "/" + filepath.Base(u), FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	examples, err := filepath.Glob(filepath.Join(root, "deploy/examples/*"))
	if err != nil {
		return nil, err
	}
	for _, e := range examples {
		base := filepath.Base(e)
		c = append(c, &files.Content{Source: e, Destination: "/usr/share/discovery/examples/" + base, FileInfo: &files.ContentFileInfo{Mode: 0o644}})
		// The units read /etc/default/<unit>: shipped as the examples, kept
		// when the operator has changed them.
		if unit, ok := strings.CutSuffix(base, ".env"); ok {
			c = append(c, &files.Content{Source: e, Destination: "/etc/default/" + unit, Type: files.TypeConfigNoReplace, FileInfo: &files.ContentFileInfo{Mode: 0o644}})
		}
	}
	dashboards, _ := filepath.Glob(filepath.Join(root, "deploy/grafana/*.json"))
	for _, d := range dashboards {
		c = append(c, &files.Content{Source: d, Destination: "/usr/share/discovery/grafana/" + filepath.Base(d), FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	docs := []string{"README.md"}
	more, _ := filepath.Glob(filepath.Join(root, "docs/*.md"))
	for _, d := range more {
		docs = append(docs, strings.TrimPrefix(d, root+"/"))
	}
	docs = append(docs, "deploy/README.md")
	for _, d := range docs {
		dest := "/usr/share/doc/discovery/" + filepath.Base(d)
		if d == "deploy/README.md" {
			dest = "/usr/share/doc/discovery/deploy.md"
		}
		c = append(c, &files.Content{Source: filepath.Join(root, d), Destination: dest, FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	return c, nil
}

// writeChecksums writes SHA256SUMS for every file in dir, as sha256sum -c reads it.
func writeChecksums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var lines []string
	for _, e := range entries {
		if e.IsDir() || e.Name() == "SHA256SUMS" {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		lines = append(lines, hex.EncodeToString(h.Sum(nil))+"  "+e.Name())
	}
	sort.Strings(lines)
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
