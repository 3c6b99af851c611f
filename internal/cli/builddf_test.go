package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// system df shows the build cache as Docker's Build Cache row, with real
// sizes: a layer once no image holds it, and the cache mounts' files;
// -v lists it under "Build cache usage:"; builder prune -a empties it.
func TestSystemDfBuildCache(t *testing.T) {
	b := withImage(t)
	dir := t.TempDir()
	cf := "FROM img\n" +
		"RUN --mount=type=cache,target=/cache head -c 300000 /dev/zero > /cache/blob\n" +
		"RUN head -c 200000 /dev/zero > /big\n"
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(cf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("build", "-q", "-t", "cached:1", dir)
	row := regexp.MustCompile(`(?m)^Build Cache +(\d+) +(\d+) +(\S+) +(\S+)$`)
	m := row.FindStringSubmatch(b.run("system", "df"))
	// Two records and the cache mount; the image holds the layers.
	if m == nil || m[1] != "3" || m[2] != "0" || m[3] != "300kB" || m[4] != "300kB" {
		t.Errorf("system df, the image kept: %q", m)
	}
	b.run("rmi", "cached:1")
	df := b.run("system", "df")
	// Now the record keeps the 200kB layer alone (the RUN --mount's layer
	// holds no file but the mount point).
	if m = row.FindStringSubmatch(df); m == nil || m[1] != "3" || m[3] != "500kB" || m[4] != "500kB" {
		t.Errorf("system df, the image removed:\n%s", df)
	}
	v := b.run("system", "df", "-v")
	if !strings.Contains(v, "\nBuild cache usage: "+m[3]+"\n") ||
		!regexp.MustCompile(`(?m)^CACHE ID +CACHE TYPE +SIZE +CREATED +LAST USED +USAGE +SHARED$`).MatchString(v) ||
		!regexp.MustCompile(`(?m)^[0-9a-f]{12} +exec\.cachemount +300kB +.* ago +false$`).MatchString(v) ||
		!regexp.MustCompile(`(?m)^[0-9a-f]{12} +regular +`).MatchString(v) {
		t.Errorf("system df -v:\n%s", v)
	}
	b.run("builder", "prune", "-a", "-f")
	if m = row.FindStringSubmatch(b.run("system", "df")); m == nil || m[1] != "0" || m[3] != "0B" || m[4] != "0B" {
		t.Errorf("system df after builder prune -a: %q", m)
	}
}
