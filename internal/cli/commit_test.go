package cli

import (
	"sort"
	"strings"
	"testing"
)

// diff shows what a container changed as Docker's A/C/D lines, without
// the runtime's stubs; commit makes an image of it that has the changes.
func TestDiffAndCommit(t *testing.T) {
	b := withImage(t)
	b.run("run", "--name", "c1", "img", "sh", "-c", "echo new > /added; rm /bin/yes; mkdir -p /www/sub")
	got := b.run("diff", "c1")
	want := "D /bin/yes\nC /bin\nA /added\nC /www\nA /www/sub\n"
	if sortedLines(got) != sortedLines(want) {
		t.Errorf("diff:\n%s\nwant (any order):\n%s", got, want)
	}
	id := b.run("commit", "-c", "CMD [\"cat\", \"/added\"]", "-m", "by hand", "c1", "committed:1")
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q", id)
	}
	if out := b.run("run", "--rm", "committed:1"); out != "new\n" {
		t.Errorf("the committed image printed %q", out)
	}
	if out, _, code := b.try("", "run", "--rm", "committed:1", "ls", "/bin/yes"); code == 0 {
		t.Errorf("a file the container removed is back: %q", out)
	}
	if out := b.run("history", "committed:1"); !strings.Contains(out, "by hand") {
		t.Errorf("history lacks the message:\n%s", out)
	}
}

func sortedLines(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}
