// Command sbomdriver runs berth's inventory on a saved image for
// bench/sbom.sh until `berth image sbom` exists, and builds and compares
// what the benchmark needs:
//
//	sbomdriver [-format table|json|spdx-json|cyclonedx-json] ARCHIVE|OCI-DIR
//	sbomdriver mkimage -o OUT.tar -tag NAME LAYER.tar...
//	sbomdriver compare SYFT.json ARCHIVE|OCI-DIR
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/berth-dev/berth/sbom"
	"github.com/berth-dev/berth/sbom/archive"
	"github.com/berth-dev/berth/sbom/format"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sbomdriver:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "mkimage":
			return mkimage(args[1:])
		case "compare":
			return compare(args[1:])
		}
	}
	fs := flag.NewFlagSet("sbomdriver", flag.ContinueOnError)
	f := fs.String("format", "table", "output format")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: sbomdriver [-format F] ARCHIVE|OCI-DIR")
	}
	img, s, err := inventory(fs.Arg(0))
	if err != nil {
		return err
	}
	for _, w := range s.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	return format.Write(os.Stdout, *f, s, format.Document{Name: img.Name})
}

func inventory(p string) (*archive.Image, *sbom.SBOM, error) {
	img, err := archive.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer img.Close()
	s, err := sbom.Inventory(context.Background(), img.Layers)
	return img, s, err
}

func mkimage(args []string) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	out := fs.String("o", "", "output docker-archive tar")
	tag := fs.String("tag", "bench/sbom:latest", "tag to record")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: sbomdriver mkimage -o OUT.tar [-tag T] LAYER.tar [LAYER.tar]")
	}
	return archive.WriteDockerArchive(*out, *tag, fs.Args()...)
}

// compare prints how berth's package list covers syft's on the same image,
// by name and version; Maven packages by artifact id, as syft names them.
func compare(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: sbomdriver compare SYFT.json ARCHIVE|OCI-DIR")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var doc struct {
		Artifacts []struct {
			Name, Version, Type string
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	_, s, err := inventory(args[1])
	if err != nil {
		return err
	}
	ours := map[string]bool{}
	for _, p := range s.Packages {
		name := p.Name
		switch p.Type {
		case sbom.TypeMaven:
			if _, a, ok := strings.Cut(name, ":"); ok {
				name = a
			}
		case sbom.TypePython:
			name = sbom.NormalizePyPI(name)
		}
		ours[name+" "+p.Version] = true
	}
	theirs := map[string]string{}
	for _, a := range doc.Artifacts {
		v, name := a.Version, a.Name
		if a.Type == "python" {
			name = sbom.NormalizePyPI(name)
		}
		if a.Type == "go-module" && v == "UNKNOWN" {
			v = "(devel)" // syft's name for a main module built without a version, as go version -m prints it
		}
		theirs[name+" "+v] = a.Type
	}
	var missing, extra []string
	for k, typ := range theirs {
		if !ours[k] {
			missing = append(missing, k+" ("+typ+")")
		}
	}
	for k := range ours {
		if _, ok := theirs[k]; !ok {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	fmt.Printf("syft: %d distinct name+version, berth: %d; syft's found by berth: %d; missing from berth: %d; only berth: %d\n",
		len(theirs), len(ours), len(theirs)-len(missing), len(missing), len(extra))
	for _, m := range missing {
		fmt.Println("  missing:", m)
	}
	for _, e := range extra {
		fmt.Println("  only berth:", e)
	}
	if len(missing) > 0 {
		return fmt.Errorf("berth misses %d of syft's packages", len(missing))
	}
	return nil
}
