package runc

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		msg  string
		kind error
	}{
		{`runc run failed: unable to start container process: exec: "nosuch": executable file not found in $PATH`, ErrNotFound},
		{`runc run failed: unable to start container process: exec: "/x": stat /x: no such file or directory`, ErrNotFound},
		{`runc run failed: unable to start container process: exec: "/etc": permission denied`, ErrPermission},
		{`exec: "/etc": is a directory`, ErrPermission},
		{`runc run failed: unable to start container process: error during container init: error mounting "/a" to rootfs at "/b": not a directory`, ErrNotFound},
		{`runc run failed: cgroup: something else`, nil},
	}
	for _, tt := range tests {
		e := Classify(tt.msg)
		if e.Error() != tt.msg || !errors.Is(e, tt.kind) && tt.kind != nil || tt.kind == nil && e.Kind != nil {
			t.Errorf("Classify(%q) = %v (kind %v), want kind %v", tt.msg, e, e.Kind, tt.kind)
		}
	}
}

func TestLogError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "runc.log")
	log := `{"level":"warning","msg":"a warning","time":"2024-01-01T00:00:00Z"}
{"level":"error","msg":"runc run failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH","time":"2024-01-01T00:00:00Z"}
not json
`
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	err := LogError(path)
	if !errors.Is(err, ErrNotFound) || err.Error() != `runc run failed: unable to start container process: exec: "nosuch": executable file not found in $PATH` {
		t.Errorf("LogError = %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"level":"warning","msg":"only a warning"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := LogError(path); err != nil {
		t.Errorf("warnings only: %v", err)
	}
	if err := LogError(filepath.Join(dir, "none")); err != nil {
		t.Errorf("no log: %v", err)
	}
}

func TestReadPid(t *testing.T) {
	dir := t.TempDir()
	for content, ok := range map[string]bool{"123": true, "123\n": true, "": false, "x": false, "-4": false} {
		p := filepath.Join(dir, "pid")
		os.WriteFile(p, []byte(content), 0o600)
		pid, err := ReadPid(p)
		if (err == nil) != ok || ok && pid != 123 {
			t.Errorf("ReadPid(%q) = %d, %v", content, pid, err)
		}
	}
}
