package ctr_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/ctr"
	"github.com/berth-dev/berth/ctr/internal/testimage"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/syncbuf"
)

func TestNamedVolume(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	o := busybox("sh", "-c", "echo kept > /data/file")
	o.Volumes = []string{"shared:/data"}
	if _, _, code := run(t, m, o); code != 0 {
		t.Fatal("writer failed")
	}
	o = busybox("cat", "/data/file")
	o.Volumes = []string{"shared:/data:ro"}
	if out, errOut, code := run(t, m, o); out != "kept\n" || code != 0 {
		t.Fatalf("second container reads %q %q", out, errOut)
	}
	v, err := m.Volumes().Get("shared")
	if err != nil || v.Anonymous() {
		t.Fatalf("volume %+v %v", v, err)
	}
	users, err := m.VolumeUsers(ctx, "shared")
	if err != nil || len(users) != 2 {
		t.Fatalf("users %v %v", users, err)
	}
	if err := m.RemoveVolume(ctx, "shared", false); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "remove shared: volume is in use - [") {
		t.Errorf("rm of a volume in use: %v", err)
	}
	if _, _, err := m.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveVolume(ctx, "shared", false); err != nil {
		t.Errorf("rm of a free volume: %v", err)
	}
	if err := m.RemoveVolume(ctx, "shared", true); err != nil {
		t.Errorf("rm -f of a missing volume: %v", err)
	}
	if err := m.RemoveVolume(ctx, "shared", false); !errdefs.IsNotFound(err) {
		t.Errorf("rm of a missing volume: %v", err)
	}
}

func TestAnonymousVolumes(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	// The image has content at its VOLUME: a new volume starts with it.
	layer := filepath.Join(t.TempDir(), "fs")
	if err := testimage.FileLayer(layer, map[string]string{"var/lib/app/seed": "from the image\n"}); err != nil {
		t.Fatal(err)
	}
	o := busybox("cat", "/var/lib/app/seed")
	o.Layers = append(o.Layers, layer)
	o.ImageConfig.Volumes = map[string]struct{}{"/var/lib/app": {}}
	o.Volumes = []string{"/scratch"}
	out, _, code := run(t, m, o)
	if out != "from the image\n" || code != 0 {
		t.Fatalf("copy-up: %q", out)
	}
	list, _ := m.List(ctx)
	c := list[0]
	if len(c.Mounts) != 2 {
		t.Fatalf("mounts %+v", c.Mounts)
	}
	var anon []string
	for _, mp := range c.Mounts {
		if !mp.Anonymous || mp.Type != "volume" || len(mp.Name) != 64 {
			t.Errorf("mount %+v", mp)
		}
		anon = append(anon, mp.Name)
		if v, err := m.Volumes().Get(mp.Name); err != nil || !v.Anonymous() {
			t.Errorf("volume %s: %+v %v", mp.Name, v, err)
		}
	}
	// rm keeps them; rm -v removes them.
	o.Volumes = nil
	c2, err := m.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, c2.ID, ctr.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, c.ID, ctr.RemoveOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	for _, name := range anon {
		if _, err := m.Volumes().Get(name); !errdefs.IsNotFound(err) {
			t.Errorf("anonymous volume %s kept after rm -v: %v", name, err)
		}
	}
	// c2's anonymous volume was kept by plain rm; prune takes it.
	removed, _, err := m.PruneVolumes(ctx, false)
	if err != nil || len(removed) != 1 {
		t.Errorf("prune: %v %v", removed, err)
	}
}

func Test128Layers(t *testing.T) {
	m := newManager(t)
	o := busybox("sh", "-c", "cat /layers/0 /layers/63 /layers/126; cat /shared")
	base := t.TempDir()
	for i := range 127 {
		// Paths as long as the store's: layers/<64 hex>/fs.
		dir := filepath.Join(base, "layers", fmt.Sprintf("%064x", i), "fs")
		if err := testimage.FileLayer(dir, map[string]string{fmt.Sprintf("layers/%d", i): fmt.Sprintln(i), "shared": fmt.Sprintln("top", i)}); err != nil {
			t.Fatal(err)
		}
		o.Layers = append(o.Layers, dir)
	}
	if len(o.Layers) != 128 {
		t.Fatalf("%d layers", len(o.Layers))
	}
	out, errOut, code := run(t, m, o)
	if code != 0 || out != "0\n63\n126\ntop 126\n" {
		t.Fatalf("128 layers: %q %q %d", out, errOut, code)
	}
}

func TestConcurrentRuns(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	ips := make([]string, 6)
	for i := range ips {
		wg.Go(func() {
			o := busybox("sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'")
			o.Network = "bridge"
			c, err := m.Create(ctx, o)
			if err != nil {
				t.Error(err)
				return
			}
			var out syncbuf.Buffer
			s, err := m.Start(ctx, c.ID, &ctr.Streams{Stdout: &out, Stderr: &out})
			if err != nil {
				t.Error(err)
				return
			}
			if code, err := s.Wait(ctx); err != nil || code != 0 {
				t.Errorf("%d %v %q", code, err, out.String())
			}
			ips[i] = strings.TrimSpace(out.String())
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, ip := range ips {
		if ip == "" || seen[ip] {
			t.Errorf("addresses %v", ips)
			break
		}
		seen[ip] = true
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != len(ips) {
		t.Fatalf("list: %d %v", len(list), err)
	}
	for _, c := range list {
		if c.State.Status != ctr.StatusExited || len(c.NetworkSettings.Ports) != 0 {
			t.Errorf("%s: %+v %+v", c.ShortID(), c.State, c.NetworkSettings)
		}
	}
	// The network is given back right after the exit is told, and the
	// record says so once it is.
	waitFor(t, "the namespaces to go", func() bool {
		entries, _ := os.ReadDir(filepath.Join(runDir, "netns"))
		return len(entries) == 0
	})
	waitFor(t, "the endpoints to be forgotten", func() bool {
		list, _ = m.List(ctx)
		for _, c := range list {
			if c.NetworkSettings.Endpoint != nil {
				return false
			}
		}
		return true
	})
}
