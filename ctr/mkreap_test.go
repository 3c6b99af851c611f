package ctr

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReapMkTellsDeadMakers: a directory a create made but had not locked
// yet goes as soon as its maker is dead (the kill test once found one
// left for a minute), and stays while its maker lives.
func TestReapMkTellsDeadMakers(t *testing.T) {
	m := &Manager{dir: t.TempDir()}
	id := strings.Repeat("ab", 32)
	live := mkName(id)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadName := fmt.Sprintf("%s%s.%d.%d", mkPrefix, strings.Repeat("cd", 32), dead.Process.Pid, 1)
	old := mkPrefix + strings.Repeat("ef", 32) // an older berth's name: mkGrace decides
	for _, n := range []string{live, deadName, old} {
		if err := os.MkdirAll(filepath.Join(m.dir, n, "upper"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{live, deadName, old} {
		m.reapEntry(t.Context(), n)
	}
	for n, want := range map[string]bool{live: true, deadName: false, old: true} {
		_, err := os.Stat(filepath.Join(m.dir, n))
		if got := err == nil; got != want {
			t.Errorf("%s: there %v, want %v", n, got, want)
		}
	}
}
