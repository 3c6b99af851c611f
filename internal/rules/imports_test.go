package rules

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/berth-dev/berth"

// rule forbids packages matching from to import packages matching to.
// A pattern is a path inside the module ("engine"), "x/..." for x and
// everything under it, or a standard library path ("os", "net/...").
// unless names importers the rule spares, except the imports it allows.
type rule struct {
	from, to string
	unless   []string
	except   []string
	tests    bool
	why      string
}

// layers are the rules docs/architecture.md states. Only direct imports
// count: a package may use what its dependencies use. Rules marked tests
// hold for the package's tests too (an engine test may start a hub, but a
// CLI test that drove the runtime directly would test around the engine).
var layers = []rule{
	{from: "internal/cli/...", to: "ctr/...", tests: true, why: "the CLI reaches containers through the engine"},
	{from: "ui/...", to: "ctr/...", tests: true, why: "the dashboard reaches containers through the engine"},
	{from: "api/...", to: "ctr/...", tests: true, why: "the Engine API reaches containers through the engine"},
	{from: "build/...", to: "ctr/...", tests: true, why: "build runs its steps through the engine"},
	{from: "store/...", to: "ctr/...", why: "the store knows nothing of containers"},
	{from: "...", to: "ctr/...", unless: []string{"ctr/...", "engine/...", "cmd/berth"},
		why: "only the engine drives the container runtime (main only starts its shim)"},

	{from: "image/...", to: "os", why: "image is the domain: no I/O"},
	{from: "image/...", to: "os/...", why: "image is the domain: no I/O"},
	{from: "image/...", to: "net/...", why: "image is the domain: no I/O"},
	{from: "image/...", to: "net", why: "image is the domain: no I/O"},
	{from: "image/...", to: "database/sql/...", why: "image is the domain: no I/O"},
	{from: "image/...", to: "...", except: []string{"image/...", "errdefs"},
		why: "image depends on nothing of berth's but errdefs"},
	{from: "errdefs", to: "...", why: "errdefs is the bottom: every package imports it"},

	{from: "engine/...", to: "internal/cli/...", why: "imports point down"},
	{from: "engine/...", to: "ui/...", why: "imports point down"},
	{from: "engine/...", to: "hub/...", why: "the engine is a client of any hub, through registry/client"},
	{from: "store/...", to: "engine/...", why: "imports point down"},
	{from: "ctr/...", to: "engine/...", why: "imports point down"},
	{from: "ctr/...", to: "store/...", why: "the engine keeps the runtime and the store in step"},
	{from: "registry/...", to: "engine/...", why: "imports point down"},
	{from: "hub/...", to: "engine/...", why: "the hub is a server of its own, not a local engine"},
	{from: "hub/...", to: "store/...", why: "the hub keeps blobs in hub/blobs, metadata in hub/meta"},
	{from: "hub/...", to: "internal/cli/...", why: "imports point down"},
	{from: "hub/...", to: "ui/...", why: "imports point down"},
	{from: "ui/...", to: "internal/cli/...", why: "imports point down"},

	// The hub along its seams: the root package wires the parts together.
	{from: "hub/registry/...", to: "hub/api/...", why: "the registry API and the JSON API are separate seams"},
	{from: "hub/api/...", to: "hub/registry/...", why: "the registry API and the JSON API are separate seams"},
	{from: "hub/access/...", to: "hub/...", except: []string{"hub/access/...", "hub/errcode", "hub/meta", "hub/names", "hub/token"},
		why: "the access controller sits under the APIs it guards"},
	{from: "hub/meta/...", to: "hub/...", except: []string{"hub/meta/..."}, why: "the metadata store is the bottom of the hub"},
	{from: "hub/blobs/...", to: "hub/...", except: []string{"hub/blobs/..."}, why: "the blob store is the bottom of the hub"},
	{from: "hub/web/...", to: "hub/...", except: []string{"hub/web/..."}, why: "the web pages are a client of the JSON API, over HTTP"},
}

func TestImportRules(t *testing.T) {
	for _, v := range violations(importGraph(t, "{{range .Imports}} {{.}}{{end}}"), layers) {
		t.Error(v)
	}
	var forTests []rule
	for _, r := range layers {
		if r.tests {
			forTests = append(forTests, r)
		}
	}
	for _, v := range violations(importGraph(t, "{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}"), forTests) {
		t.Error("in tests: " + v)
	}
}

// importGraph maps each of the module's packages to the imports that
// imports, a go list template, lists.
func importGraph(t *testing.T, imports string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}"+imports, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		graph[f[0]] = f[1:]
	}
	if len(graph) < 20 {
		t.Fatalf("go list found only %d packages", len(graph))
	}
	return graph
}

// TestImportRulesCatch shows the checker fails on the imports the rules
// exist for, so TestImportRules passing means something.
func TestImportRulesCatch(t *testing.T) {
	graph := map[string][]string{
		module + "/internal/cli": {module + "/engine", module + "/ctr/portproxy", "fmt"},
		module + "/ui":           {module + "/ctr"},
		module + "/image":        {"os", "net/url", module + "/errdefs", module + "/store"},
		module + "/store":        {module + "/ctr/volume", "database/sql"},
		module + "/engine":       {module + "/ctr", module + "/store"},
		module + "/cmd/berth":    {module + "/ctr"},
		module + "/ctr":          {module + "/ctr/runc", "os/exec"},
	}
	got := violations(graph, layers)
	for _, want := range []string{
		"internal/cli imports ctr/portproxy",
		"ui imports ctr",
		"image imports os",
		"image imports net/url",
		"image imports store",
		"store imports ctr/volume",
	} {
		found := false
		for _, v := range got {
			found = found || strings.HasPrefix(v, want+":")
		}
		if !found {
			t.Errorf("no violation %q in %q", want, got)
		}
	}
	for _, v := range got {
		for _, fine := range []string{"engine imports", "cmd/berth imports", "ctr imports", "image imports errdefs", "internal/cli imports engine"} {
			if strings.HasPrefix(v, fine) {
				t.Errorf("allowed import reported: %s", v)
			}
		}
	}
}

// violations lists, sorted, each import in graph (package → direct
// imports, full paths) that a rule forbids, as "from imports to: why".
func violations(graph map[string][]string, rules []rule) []string {
	var out []string
	for pkg, imports := range graph {
		from, ok := inModule(pkg)
		if !ok {
			continue
		}
		for _, imp := range imports {
			to, local := inModule(imp)
			for _, r := range rules {
				if !matches(r.from, from, true) || !matches(r.to, to, local) {
					continue
				}
				if anyMatch(r.unless, from, true) || anyMatch(r.except, to, local) {
					continue
				}
				out = append(out, from+" imports "+to+": "+r.why)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// inModule trims the module path; ok tells whether p is the module's.
func inModule(p string) (string, bool) {
	if rest, ok := strings.CutPrefix(p, module+"/"); ok {
		return rest, true
	}
	return p, p == module
}

// matches tells whether path p (local: inside the module) fits pattern.
// Module patterns match module packages only, standard library patterns
// ("os", "net/...") other packages only; "..." alone is every module
// package.
func matches(pattern, p string, local bool) bool {
	std := isStd(pattern)
	if std == local {
		return false
	}
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == pattern
}

func anyMatch(patterns []string, p string, local bool) bool {
	for _, pat := range patterns {
		if matches(pat, p, local) {
			return true
		}
	}
	return false
}

// isStd tells the standard library patterns the rules use from module ones.
func isStd(pattern string) bool {
	switch strings.SplitN(pattern, "/", 2)[0] {
	case "os", "net", "database":
		return true
	}
	return false
}
