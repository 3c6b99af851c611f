// Package webtest runs the browser tests in web/tests (node scripts that
// drive Debian's chromium with playwright-core) from Go tests, so that
// `go test ./...` runs them. A test calls Script with the environment the
// script needs; screenshots go under OutDir: $BERTH_TEST_OUT, else out/web
// at the repository's root (ignored by git).
package webtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Chromium is the browser the scripts drive.
const Chromium = "/usr/bin/chromium"

// Root is the repository's root: the directory holding go.mod above the
// test's working directory.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("webtest: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// OutDir is where screenshots go.
func OutDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("BERTH_TEST_OUT"); d != "" {
		return d
	}
	return filepath.Join(Root(t), "out", "web")
}

var setupOnce sync.Once
var setupErr error

// Ready skips the test, loudly, when node or chromium is missing, and
// installs web/'s npm packages (npm ci) if `make` has not.
func Ready(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests do not run with -short")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("SKIPPING browser test: node is not installed (Debian package nodejs; make test installs it)")
	}
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("SKIPPING browser test: %s is missing (Debian package chromium; make test installs it)", Chromium)
	}
	web := filepath.Join(Root(t), "web")
	setupOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core", "package.json")); err == nil {
			return
		}
		if _, err := exec.LookPath("npm"); err != nil {
			setupErr = fmt.Errorf("npm is not installed (Debian package npm)")
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = web
		if out, err := cmd.CombinedOutput(); err != nil {
			setupErr = fmt.Errorf("npm ci in web/: %v\n%s", err, out)
		}
	})
	if setupErr != nil {
		t.Fatalf("webtest: %v", setupErr)
	}
	return web
}

// Script runs web/tests/NAME with env added, logging its output as it
// comes, and fails the test if it fails. It stops the script after
// timeout.
func Script(t testing.TB, name string, timeout time.Duration, env ...string) {
	t.Helper()
	web := Ready(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("tests", name))
	cmd.Dir = web
	cmd.Env = append(os.Environ(), "BERTH_TEST_OUT="+OutDir(t), "CHROMIUM="+Chromium)
	cmd.Env = append(cmd.Env, env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			t.Log(sc.Text())
		}
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish in %s", name, timeout)
	}
	if err != nil {
		t.Fatalf("%s failed (%v); screenshots in %s", name, err, OutDir(t))
	}
}
