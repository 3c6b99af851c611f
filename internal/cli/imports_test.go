package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// The CLI and the dashboard reach containers through the engine only, so
// that the engine keeps its records in step with the runtime's: neither
// they nor their tests import the container runtime's packages.
func TestNoRuntimeImportsAboveTheEngine(t *testing.T) {
	const runtime = "github.com/berth-dev/berth/ctr"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`,
		"github.com/berth-dev/berth/internal/cli", "github.com/berth-dev/berth/ui").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		for _, imp := range strings.Fields(imports) {
			if imp == runtime || strings.HasPrefix(imp, runtime+"/") {
				t.Errorf("%s imports %s: go through the engine", pkg, imp)
			}
		}
	}
}
