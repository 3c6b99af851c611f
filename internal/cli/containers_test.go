package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/hubtest"
)

func TestRunOutputAndExitCodes(t *testing.T) {
	b := withImage(t)
	if out, errs, code := b.try("", "run", "--rm", "img", "echo", "hi"); out != "hi\n" || errs != "" || code != 0 {
		t.Fatalf("run --rm img echo hi: %q %q %d", out, errs, code)
	}
	if got := b.run("ps", "-aq"); got != "" {
		t.Fatalf("an --rm container is left: %q", got)
	}
	if got := b.run("images", "--format", "{{.Containers}}"); strings.TrimSpace(got) != "0" {
		t.Errorf("the image still counts a removed --rm container: %q", got)
	}
	hub := hubtest.New(t, hubtest.Options{Seed: true})
	envFile := filepath.Join(t.TempDir(), "env")
	writeFile(t, envFile, "# a comment\n\nA=from-file\nB=file\n")
	hostname, _ := os.Hostname()
	tests := []struct {
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string // a regexp
	}{
		{[]string{"run", "--name", "three", "img", "sh", "-c", "echo out; echo err >&2; exit 3"}, "", 3, "out\n", "^err\n$"},
		{[]string{"run", "-i", "--rm", "img", "sh", "-c", "tr a-z A-Z"}, "piped\n", 0, "PIPED\n", "^$"},
		{[]string{"run", "--rm", "-e", "A=1", "-e", "B", "-w", "/tmp", "-u", "nobody", "--hostname", "box", "img", "sh", "-c", "echo $A $B $(pwd) $(id -u) $(hostname)"}, "", 0, "1 /tmp 65534 box\n", "^$"},
		{[]string{"run", "--rm", "--entrypoint", "echo", "img", "via", "entrypoint"}, "", 0, "via entrypoint\n", "^$"},
		{[]string{"run", "--rm", "--read-only", "img", "touch", "/x"}, "", 1, "", "Read-only file system"},
		{[]string{"run", "--rm", "--env-file", envFile, "-e", "B=cli", "img", "sh", "-c", "echo $A-$B"}, "", 0, "from-file-cli\n", "^$"},
		{[]string{"run", "--rm", "--network", "host", "img", "hostname"}, "", 0, hostname + "\n", "^$"},
		{[]string{"run", "--rm", "--network", "none", "img", "sh", "-c", "ls /sys/class/net"}, "", 0, "lo\n", "^$"},
		{[]string{"run", "--rm", "img", "nope"}, "", 127, "", `^berth: OCI runtime create failed: .*executable file not found in \$PATH\.\n$`},
		{[]string{"run", "--rm", "img", "/etc/passwd"}, "", 126, "", `^berth: .*permission denied\.\n$`},
		{[]string{"--hub", hub.Host, "run", "--rm", "nosuch"}, "", 125, "", `^Unable to find image 'nosuch:latest' locally\nberth: .*(not found|unknown|does not exist).*\.\nSee 'berth run --help'\.\n$`},
		{[]string{"--hub", hub.Host, "run", "--rm", "welcome", "echo", "pulled"}, "", 0, "pulled\n", `^Unable to find image 'welcome:latest' locally\nlatest: Pulling from library/welcome\n(.|\n)*Status: Downloaded newer image for welcome:latest\n$`},
		{[]string{"run", "--rm", "localhost:1/nosuch"}, "", 125, "", `^Unable to find image 'localhost:1/nosuch:latest' locally\nberth: .*connection refused\.\nSee 'berth run --help'\.\n$`},
		{[]string{"run", "--rm", "Bad"}, "", 125, "", `^berth: .*must be lowercase.*\.\nSee 'berth run --help'\.\n$`},
		{[]string{"run", "-p", "abc", "img"}, "", 125, "", `^berth: invalid containerPort: abc\.\nSee 'berth run --help'\.\n$`},
		{[]string{"run", "--network", "nope", "img"}, "", 125, "", `^berth: network nope not found\.\nSee 'berth run --help'\.\n$`},
		{[]string{"run", "--memory", "1m", "img"}, "", 125, "", `Minimum memory limit allowed is 6MB`},
		{[]string{"run", "--bogus", "img"}, "", 125, "", `^unknown flag: --bogus\nSee 'berth run --help'\.\n$`},
		{[]string{"run", "-it", "img"}, "", 1, "", `^the input device is not a TTY\n$`},
		{[]string{"run", "--name", "three", "img"}, "", 125, "", `^berth: Conflict\. The container name "/three" is already in use by container "[0-9a-f]{64}"\. You have to remove \(or rename\) that container to be able to reuse that name\.\nSee 'berth run --help'\.\n$`},
		{[]string{"--hub", hub.Host, "create", "nosuch"}, "", 125, "", `^Unable to find image 'nosuch:latest' locally\nberth: .*(not found|unknown|does not exist).*\.\nSee 'berth create --help'\.\n$`},
		{[]string{"start", "nope"}, "", 1, "", "^Error: No such container: nope\nError: failed to start containers: nope\n$"},
		{[]string{"stop", "nope"}, "", 1, "", "^Error: No such container: nope\n$"},
		{[]string{"kill", "three"}, "", 1, "", `^Error: Cannot kill container: three: Container [0-9a-f]{64} is not running\n$`},
		{[]string{"exec", "three", "true"}, "", 1, "", `^Error: Container [0-9a-f]{64} is not running\n$`},
		{[]string{"rm", "-f", "nope"}, "", 0, "", "^Error: No such container: nope\n$"},
		{[]string{"wait", "three"}, "", 0, "3\n", "^$"},
		{[]string{"start", "-a", "three"}, "", 3, "out\n", "^err\n$"},
	}
	for _, tt := range tests {
		out, errs, code := b.try(tt.stdin, tt.args...)
		if code != tt.code || out != tt.stdout || !regexp.MustCompile(tt.stderr).MatchString(errs) {
			t.Errorf("berth %s: exit %d, stdout %q, stderr %q; want %d, %q, %s", strings.Join(tt.args, " "), code, out, errs, tt.code, tt.stdout, tt.stderr)
		}
	}
	// run -d --rm: gone once it exits, and so is its record.
	b.run("run", "-d", "--rm", "--name", "brief", "img", "true")
	waitFor(t, "the --rm container to go", func() bool { return b.run("ps", "-aq", "--filter", "name=brief") == "" })
	if got := b.run("images", "--filter", "reference=img", "--format", "{{.Containers}}"); got != "1\n" {
		t.Errorf("containers of img after run -d --rm: %q", got)
	}
	// create prints the ID; start -a runs it attached.
	id := strings.TrimSpace(b.run("create", "--name", "made", "img", "echo", "created"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("create printed %q", id)
	}
	if got := psField(t, b, "{{.Status}}", "-a", "--filter", "name=^made$"); got != "Created" {
		t.Errorf("status of a created container: %q", got)
	}
	if out, _, code := b.try("", "start", "-a", "made"); out != "created\n" || code != 0 {
		t.Errorf("start -a: %q %d", out, code)
	}
	if out := b.run("logs", "made"); out != "created\n" {
		t.Errorf("logs: %q", out)
	}
}

func TestWebServerPortsLogsStopStart(t *testing.T) {
	b := withImage(t)
	id := strings.TrimSpace(b.run("run", "-d", "--name", "web", "-p", "0:8080", "img", "sh", "-c", "echo ready; exec httpd -f -v -p 8080 -h /www"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	port := hostPort(t, b, "web", "8080")
	if body := httpGet(t, "http://127.0.0.1:"+port+"/"); body != "hello from berth\n" {
		t.Fatalf("GET through the published port: %q", body)
	}
	if got := strings.TrimSpace(b.run("port", "web")); got != "8080/tcp -> 0.0.0.0:"+port {
		t.Errorf("port web: %q", got)
	}
	if _, errs, code := b.try("", "port", "web", "80"); code != 1 || errs != "Error: No public port '80' published for web\n" {
		t.Errorf("port web 80: %q %d", errs, code)
	}
	// ps as Docker's: the columns, the truncated and quoted command.
	out := b.run("ps")
	rows := lines(out)
	if len(rows) != 2 || !regexp.MustCompile(`^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$`).MatchString(rows[0]) {
		t.Fatalf("ps:\n%s", out)
	}
	want := regexp.MustCompile(`^` + id[:12] + ` +img +"sh -c 'echo ready; …" +(Less than a second|\d+ seconds?) ago +Up .+ +0\.0\.0\.0:` + port + `->8080/tcp +web$`)
	if !want.MatchString(rows[1]) {
		t.Errorf("ps row %q", rows[1])
	}
	waitFor(t, "the request in the log", func() bool {
		out, errs, _ := b.try("", "logs", "web")
		return out == "ready\n" && strings.Contains(errs, "response:200")
	})
	if out, _, _ := b.try("", "logs", "-t", "web"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ready\n$`).MatchString(out) {
		t.Errorf("logs -t: %q", out)
	}
	if out, errs, _ := b.try("", "logs", "--tail", "1", "web"); out != "" || strings.Count(errs, "\n") != 1 {
		t.Errorf("logs --tail 1: %q %q", out, errs)
	}
	// exec in the running container, with its exit code.
	if out, _, code := b.try("", "exec", "-w", "/www", "-e", "X=y", "web", "sh", "-c", "echo $X $(pwd) $(cat index.html); exit 4"); code != 4 || out != "y /www hello from berth\n" {
		t.Errorf("exec: %q %d", out, code)
	}
	if out := b.run("exec", "-d", "web", "sh", "-c", "echo detached > /tmp/d"); out != "" {
		t.Errorf("exec -d printed %q", out)
	}
	waitFor(t, "exec -d's work", func() bool { out, _, _ := b.try("", "exec", "web", "cat", "/tmp/d"); return out == "detached\n" })
	if _, errs, code := b.try("", "exec", "web", "nope"); code != 127 || !strings.Contains(errs, "executable file not found") {
		t.Errorf("exec of a missing command: %q %d", errs, code)
	}

	// -P publishes every exposed port on a free one.
	b.run("run", "-d", "--name", "all", "--expose", "8080", "-P", "img", "httpd", "-f", "-p", "8080", "-h", "/www")
	if body := httpGet(t, "http://127.0.0.1:"+hostPort(t, b, "all", "8080/tcp")+"/"); body != "hello from berth\n" {
		t.Errorf("GET through -P: %q", body)
	}
	// logs -f follows until the container stops.
	b.run("run", "-d", "--name", "talker", "img", "sh", "-c", "echo one; sleep 0.5; echo two")
	if out := b.run("logs", "-f", "talker"); out != "one\ntwo\n" {
		t.Errorf("logs -f: %q", out)
	}
	b.run("rm", "-f", "all", "talker")

	// rm refuses a running container; stop, start, rm as Docker's.
	if _, errs, code := b.try("", "rm", "web"); code != 1 || errs != "Error: You cannot remove a running container "+id+". Stop the container before attempting removal or force remove\n" {
		t.Errorf("rm of a running container: %q %d", errs, code)
	}
	if out := b.run("stop", "-t", "1", "web"); out != "web\n" {
		t.Errorf("stop printed %q", out)
	}
	if got := psField(t, b, "{{.Status}}", "-a"); !regexp.MustCompile(`^Exited \(137\) `).MatchString(got) {
		t.Errorf("after stop: %q", got)
	}
	if got := b.run("ps", "-q"); got != "" {
		t.Errorf("ps without -a lists a stopped container: %q", got)
	}
	if _, err := httpGetOnce("http://127.0.0.1:" + port + "/"); err == nil {
		t.Error("the port is still served after stop")
	}
	if out := b.run("start", "web"); out != "web\n" {
		t.Errorf("start printed %q", out)
	}
	port = hostPort(t, b, "web", "8080")
	if body := httpGet(t, "http://127.0.0.1:"+port+"/"); body != "hello from berth\n" {
		t.Fatalf("GET after start: %q", body)
	}
	if out := b.run("restart", "-t", "0", "web"); out != "web\n" {
		t.Errorf("restart printed %q", out)
	}
	if got := psField(t, b, "{{.State}}"); got != "running" {
		t.Errorf("after restart: %q", got)
	}
	if out := b.run("kill", "-s", "KILL", "web"); out != "web\n" {
		t.Errorf("kill printed %q", out)
	}
	if out := b.run("wait", "web"); out != "137\n" {
		t.Errorf("wait after kill: %q", out)
	}
	if out := b.run("rename", "web", "site"); out != "" {
		t.Errorf("rename printed %q", out)
	}
	if out := b.run("rm", "site"); out != "site\n" {
		t.Errorf("rm printed %q", out)
	}
	if got := b.run("ps", "-aq"); got != "" {
		t.Errorf("ps -a after rm: %q", got)
	}
	if mps := mountsUnder(t, b.root); len(mps) > 0 {
		t.Errorf("mounted after rm: %v", mps)
	}
}

func httpGetOnce(url string) (string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	return resp.Status, nil
}

func TestNamedVolumeKeepsData(t *testing.T) {
	b := withImage(t)
	if out := b.run("volume", "create", "data"); out != "data\n" {
		t.Errorf("volume create: %q", out)
	}
	b.run("run", "--rm", "-v", "data:/data", "img", "sh", "-c", "echo kept > /data/f")
	if out := b.run("run", "--rm", "-v", "data:/data:ro", "img", "cat", "/data/f"); out != "kept\n" {
		t.Fatalf("the second container reads %q", out)
	}
	// A volume made on first use, and one a stopped container holds.
	b.run("run", "--name", "holder", "-v", "other:/o", "img", "true")
	if got := b.run("volume", "ls"); !regexp.MustCompile(`^DRIVER +VOLUME NAME\nlocal +data\nlocal +other\n$`).MatchString(got) {
		t.Errorf("volume ls:\n%s", got)
	}
	if got := b.run("volume", "ls", "-q", "--filter", "dangling=true"); got != "data\n" {
		t.Errorf("dangling volumes: %q", got)
	}
	var vols []map[string]any
	if err := json.Unmarshal([]byte(b.run("volume", "inspect", "data")), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("volume inspect: %v", err)
	}
	if v := vols[0]; v["Name"] != "data" || v["Driver"] != "local" || v["Scope"] != "local" || !strings.HasSuffix(v["Mountpoint"].(string), "/volumes/data/_data") {
		t.Errorf("volume inspect: %v", v)
	}
	if _, errs, code := b.try("", "volume", "rm", "other"); code != 1 || !regexp.MustCompile(`^Error: remove other: volume is in use - \[[0-9a-f]{64}\]\n$`).MatchString(errs) {
		t.Errorf("volume rm of a volume in use: %q %d", errs, code)
	}
	if got := b.run("inspect", "--format", "{{.Name}} {{.Driver}}", "data"); got != "data local\n" {
		t.Errorf("inspect finds a volume: %q", got)
	}
	b.run("rm", "holder")
	out := b.run("volume", "prune", "-a", "-f")
	if !strings.Contains(out, "Deleted Volumes:\ndata\nother\n\nTotal reclaimed space: 5B\n") {
		t.Errorf("volume prune -a: %q", out)
	}
	if got := b.run("volume", "ls", "-q"); got != "" {
		t.Errorf("volumes after prune: %q", got)
	}
}

// The walk users take to delete an image a container uses.
func TestDeleteWalk(t *testing.T) {
	b := withImage(t)
	b.run("run", "-d", "--name", "user", "img", "sleep", "1000")
	id := strings.TrimSpace(b.run("ps", "-q", "--no-trunc"))
	imageID := strings.TrimSpace(b.run("images", "-q", "img"))
	_, errs, code := b.try("", "rmi", "img")
	if code != 1 || errs != "Error: conflict: unable to remove repository reference \"img\" (must force) - container "+id[:12]+" is using its referenced image "+imageID+"\n" {
		t.Fatalf("rmi of an image in use: %q %d", errs, code)
	}
	if got := b.run("ps", "-a", "--filter", "ancestor=img", "--format", "{{.Names}}"); got != "user\n" {
		t.Fatalf("ps --filter ancestor=img: %q", got)
	}
	// image prune -a leaves an image a container uses.
	if out := b.run("image", "prune", "-a", "-f"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("image prune -a with the image in use: %q", out)
	}
	if out := b.run("rm", "-f", "user"); out != "user\n" {
		t.Errorf("rm -f: %q", out)
	}
	out := b.run("rmi", "img")
	if !strings.HasPrefix(out, "Untagged: img:latest\nDeleted: sha256:") || strings.Count(out, "Deleted: ") != 3 {
		t.Errorf("rmi after rm:\n%s", out)
	}
	if out := b.run("system", "check"); !strings.Contains(out, "Checked 0 blobs, 0 layers, 0 images: 0 problems.") {
		t.Errorf("system check:\n%s", out)
	}
	if mps := mountsUnder(t, b.root); len(mps) > 0 {
		t.Errorf("mounted: %v", mps)
	}
}

// Every rule of Docker's image_delete.go, with real containers.
func TestRmiRulesWithContainers(t *testing.T) {
	b := withImage(t)
	imageID := strings.TrimSpace(b.run("images", "-q", "img"))
	b.run("run", "-d", "--name", "runner", "img", "sleep", "1000")
	id := strings.TrimSpace(b.run("ps", "-q"))

	// One of several tags only untags, in use or not.
	b.run("tag", "img", "other")
	if out := b.run("rmi", "other"); out != "Untagged: other:latest\n" {
		t.Errorf("rmi of one of two tags: %q", out)
	}
	// The last tag is refused while a container uses the image...
	if _, errs, _ := b.try("", "rmi", "img"); !strings.Contains(errs, `unable to remove repository reference "img" (must force) - container `+id+` is using its referenced image `+imageID) {
		t.Errorf("rmi of the last tag: %q", errs)
	}
	// ...and forced, untags it, leaving the image dangling while the
	// container runs on; ps shows the image by its ID then.
	if out := b.run("rmi", "-f", "img"); out != "Untagged: img:latest\n" {
		t.Errorf("rmi -f of the last tag: %q", out)
	}
	if got := b.run("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Containers}}"); got != "<none>:<none> "+imageID+" 1\n" {
		t.Errorf("images after rmi -f NAME: %q", got)
	}
	if got := psField(t, b, "{{.Image}} {{.State}}"); got != imageID+" running" {
		t.Errorf("ps after the untag: %q", got)
	}
	// By ID with a running container: cannot be forced.
	_, errs, code := b.try("", "rmi", "-f", imageID)
	if code != 1 || errs != "Error: conflict: unable to delete "+imageID+" (cannot be forced) - image is being used by running container "+id+"\n" {
		t.Errorf("rmi -f ID, running: %q %d", errs, code)
	}
	// By ID with a stopped container: must be forced, and then goes.
	b.run("stop", "-t", "0", "runner")
	if _, errs, _ := b.try("", "rmi", imageID); errs != "Error: conflict: unable to delete "+imageID+" (must be forced) - image is being used by stopped container "+id+"\n" {
		t.Errorf("rmi ID, stopped: %q", errs)
	}
	if out := b.run("rmi", "-f", imageID); !strings.HasPrefix(out, "Deleted: sha256:"+imageID) {
		t.Errorf("rmi -f ID, stopped: %q", out)
	}
	if got := b.run("images", "-q"); got != "" {
		t.Errorf("images after rmi -f ID: %q", got)
	}
	// The container keeps its layers: it starts again, then rm sweeps them.
	b.run("start", "runner")
	if got := psField(t, b, "{{.State}}"); got != "running" {
		t.Errorf("a container of a deleted image does not start: %q", got)
	}
	if out := b.run("system", "check"); !strings.Contains(out, " 0 problems.") || !strings.Contains(out, "2 layers, 0 images") {
		t.Errorf("system check with the container's layers only:\n%s", out)
	}
	b.run("rm", "-f", "runner")
	if out := b.run("system", "check"); !strings.Contains(out, "Checked 0 blobs, 0 layers, 0 images: 0 problems.") {
		t.Errorf("system check after rm:\n%s", out)
	}
}

// berth's own escape duties, end to end from the command line.
func TestEscapeDuties(t *testing.T) {
	b := withImage(t)
	// Only 0, 1 and 2 (and ls's own handle on the directory) inside.
	for _, args := range [][]string{{"run", "--rm", "img"}, {"run", "--rm", "--network", "none", "img"}} {
		out := b.run(append(args, "ls", "/proc/self/fd")...)
		if got := strings.Fields(out); len(got) != 4 || got[0] != "0" || got[1] != "1" || got[2] != "2" {
			t.Errorf("%s: descriptors %q", strings.Join(args, " "), out)
		}
	}
	// A working directory in /proc is refused (CVE-2024-21626).
	for _, dir := range []string{"/proc/self/fd/7", "/proc/1/cwd"} {
		if _, errs, code := b.try("", "run", "--rm", "-w", dir, "img", "true"); code != 125 || !strings.Contains(errs, "/proc") || !strings.HasPrefix(errs, "berth: ") {
			t.Errorf("run -w %s: %q %d", dir, errs, code)
		}
	}
	b.run("run", "-d", "--name", "box", "img", "sleep", "1000")
	if _, errs, code := b.try("", "exec", "-w", "/proc/self/fd/3", "box", "pwd"); code != 1 || !strings.Contains(errs, "/proc") {
		t.Errorf("exec -w /proc/self/fd/3: %q %d", errs, code)
	}
	// A symlinked volume source is resolved once: swapping it reaches
	// nothing (CVE-2021-30465).
	base := t.TempDir()
	good, evil, link := filepath.Join(base, "good"), filepath.Join(base, "evil"), filepath.Join(base, "src")
	writeFile(t, filepath.Join(good, "good-file"), "g")
	writeFile(t, filepath.Join(evil, "evil-file"), "e")
	must(t, os.Symlink(good, link))
	b.run("run", "-d", "--name", "bound", "-v", link+":/data", "img", "sleep", "1000")
	must(t, os.Remove(link))
	must(t, os.Symlink(evil, link))
	if out := b.run("exec", "bound", "ls", "/data"); out != "good-file\n" {
		t.Errorf("after the swap the container sees %q", out)
	}
	b.run("exec", "bound", "touch", "/data/written")
	if _, err := os.Stat(filepath.Join(evil, "written")); err == nil {
		t.Error("a write reached the swapped-in directory")
	}
	var got []map[string]any
	must(t, json.Unmarshal([]byte(b.run("container", "inspect", "bound")), &got))
	if binds := got[0]["HostConfig"].(map[string]any)["Binds"].([]any); len(binds) != 1 || binds[0] != link+":/data" {
		t.Errorf("Binds %v", binds)
	}
	b.run("rm", "-f", "bound")
	if _, err := os.Stat(filepath.Join(good, "good-file")); err != nil {
		t.Errorf("rm -f reached through the bind: %v", err)
	}
}

func TestPsFiltersAndFormats(t *testing.T) {
	b := withImage(t)
	b.run("run", "--name", "ok", "-l", "tier=a", "img", "true")
	b.try("", "run", "--name", "bad", "img", "sh", "-c", "exit 2")
	b.run("create", "--name", "fresh", "img")
	b.run("run", "-d", "--name", "up", "-l", "tier=b", "img", "sleep", "1000")
	names := func(args ...string) string {
		return strings.Join(strings.Fields(b.run(append([]string{"ps", "--format", "{{.Names}}"}, args...)...)), ",")
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "up"},
		{[]string{"-a"}, "up,fresh,bad,ok"},
		{[]string{"-l"}, "up"},
		{[]string{"-n", "2"}, "up,fresh"},
		{[]string{"--filter", "status=exited"}, "bad,ok"},
		{[]string{"--filter", "status=created"}, "fresh"},
		{[]string{"--filter", "status=exited", "--filter", "status=running"}, "up,bad,ok"},
		{[]string{"-a", "--filter", "exited=2"}, "bad"},
		{[]string{"-a", "--filter", "name=^/?ok$"}, "ok"},
		{[]string{"-a", "--filter", "name=b"}, "bad"},
		{[]string{"-a", "--filter", "label=tier"}, "up,ok"},
		{[]string{"-a", "--filter", "label=tier=b"}, "up"},
		{[]string{"-a", "--filter", "ancestor=img", "--filter", "status=exited"}, "bad,ok"},
		{[]string{"-a", "--filter", "ancestor=nosuch"}, ""},
		{[]string{"-a", "--filter", "before=fresh"}, "bad,ok"},
		{[]string{"-a", "--filter", "since=bad"}, "up,fresh"},
	} {
		if got := names(tt.args...); got != tt.want {
			t.Errorf("ps %s: %q, want %q", strings.Join(tt.args, " "), got, tt.want)
		}
	}
	id := strings.TrimSpace(b.run("ps", "-q", "--no-trunc"))
	if got := names("-a", "--filter", "id="+id[:8]); got != "up" {
		t.Errorf("id filter: %q", got)
	}
	for _, bad := range [][]string{{"--filter", "status=bogus"}, {"--filter", "colour=red"}} {
		if _, errs, code := b.try("", append([]string{"ps"}, bad...)...); code != 1 || !strings.HasPrefix(errs, "Error: Invalid filter '") {
			t.Errorf("ps %v: %q %d", bad, errs, code)
		}
	}
	var row map[string]string
	must(t, json.Unmarshal([]byte(b.run("ps", "--format", "json")), &row))
	if row["Names"] != "up" || row["Command"] != `"sleep 1000"` || row["State"] != "running" || row["Image"] != "img" || row["Labels"] != "tier=b" || row["Networks"] != "bridge" {
		t.Errorf("ps --format json: %v", row)
	}
	if got := b.run("ps", "-a", "--no-trunc", "--filter", "name=bad", "--format", "{{.Command}}"); got != `"sh -c 'exit 2'"`+"\n" {
		t.Errorf("--no-trunc command: %q", got)
	}
	if got := b.run("ps", "-s", "--format", "{{.Size}}"); !regexp.MustCompile(`^\d+B \(virtual \d+(\.\d+)?MB\)\n$`).MatchString(got) {
		t.Errorf("ps -s: %q", got)
	}
	if got := strings.Fields(b.run("container", "ls", "-aq")); len(got) != 4 || len(got[0]) != 12 {
		t.Errorf("container ls -aq: %q", got)
	}
	out := b.run("container", "prune", "-f")
	if !strings.HasPrefix(out, "Deleted Containers:\n") || strings.Count(out, "\n") != 6 || !strings.HasSuffix(out, "\nTotal reclaimed space: 0B\n") {
		t.Errorf("container prune:\n%s", out)
	}
	if got := names("-a"); got != "up" {
		t.Errorf("after prune: %q", got)
	}
	if out, _, _ := b.try("n\n", "container", "prune"); !strings.HasPrefix(out, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ") {
		t.Errorf("prune's question: %q", out)
	}
}

func TestInspect(t *testing.T) {
	b := withImage(t)
	imageID := strings.TrimSpace(b.run("image", "inspect", "--format", "{{.Id}}", "img"))
	b.run("run", "-d", "--name", "insp", "-p", "127.0.0.1:0:80/udp", "-e", "A=b", "-w", "/tmp", "--memory", "64m", "--cpus", "0.5", "-v", "vol:/data", "img", "sleep", "1000")
	var got []map[string]any
	must(t, json.Unmarshal([]byte(b.run("container", "inspect", "insp")), &got))
	c := got[0]
	if c["Name"] != "/insp" || c["Path"] != "sleep" || c["Image"] != imageID || len(c["Id"].(string)) != 64 {
		t.Errorf("inspect: %v %v %v", c["Name"], c["Path"], c["Image"])
	}
	st := c["State"].(map[string]any)
	if st["Status"] != "running" || st["Running"] != true || st["Pid"].(float64) <= 0 || st["FinishedAt"] != "0001-01-01T00:00:00Z" {
		t.Errorf("State %v", st)
	}
	for _, key := range []string{"Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode", "Error", "StartedAt", "FinishedAt"} {
		if _, ok := st[key]; !ok {
			t.Errorf("State lacks %s", key)
		}
	}
	hc := c["HostConfig"].(map[string]any)
	if hc["Memory"].(float64) != 64<<20 || hc["NanoCpus"].(float64) != 5e8 || hc["NetworkMode"] != "bridge" {
		t.Errorf("HostConfig %v", hc)
	}
	pb := hc["PortBindings"].(map[string]any)["80/udp"].([]any)[0].(map[string]any)
	if pb["HostIp"] != "127.0.0.1" {
		t.Errorf("PortBindings %v", pb)
	}
	cfg := c["Config"].(map[string]any)
	if cfg["Image"] != "img" || cfg["WorkingDir"] != "/tmp" || !strings.Contains(strings.Join(toStrings(cfg["Env"]), " "), "A=b") {
		t.Errorf("Config %v", cfg)
	}
	ns := c["NetworkSettings"].(map[string]any)
	ports := ns["Ports"].(map[string]any)["80/udp"].([]any)[0].(map[string]any)
	if ports["HostIp"] != "127.0.0.1" || ports["HostPort"] == "" || !strings.HasPrefix(ns["IPAddress"].(string), "10.81.") {
		t.Errorf("NetworkSettings %v", ns)
	}
	mounts := c["Mounts"].([]any)
	if m := mounts[0].(map[string]any); len(mounts) != 1 || m["Type"] != "volume" || m["Name"] != "vol" || m["Destination"] != "/data" || m["Driver"] != "local" {
		t.Errorf("Mounts %v", mounts)
	}
	// The top-level inspect finds containers first, images by --type.
	if got := b.run("inspect", "--format", "{{.Name}} {{.State.Status}}", "insp"); got != "/insp running\n" {
		t.Errorf("inspect NAME: %q", got)
	}
	if got := b.run("inspect", "--format", "{{.Id}}", "img"); got != imageID+"\n" {
		t.Errorf("inspect IMAGE: %q", got)
	}
	if got := b.run("inspect", "--type", "image", "--format", "{{.Id}}", "img"); got != imageID+"\n" {
		t.Errorf("inspect --type image: %q", got)
	}
	for _, tt := range []struct{ args, stderr string }{
		{"inspect nope", "Error: No such object: nope\n"},
		{"inspect --type container img", "Error: No such container: img\n"},
		{"inspect --type image insp", "Error: No such image: insp\n"},
		{"container inspect nope", "Error: No such container: nope\n"},
		{"inspect --type bogus insp", `Error: unknown type: "bogus": must be one of "container", "image", "volume"` + "\n"},
	} {
		if out, errs, code := b.try("", strings.Fields(tt.args)...); code != 1 || errs != tt.stderr || (out != "[]\n" && out != "") {
			t.Errorf("berth %s: %q %q %d", tt.args, out, errs, code)
		}
	}
	b.run("stop", "-t", "0", "insp")
	must(t, json.Unmarshal([]byte(b.run("inspect", "insp")), &got))
	if ns := got[0]["NetworkSettings"].(map[string]any); len(ns["Ports"].(map[string]any)) != 0 || ns["IPAddress"] != "" {
		t.Errorf("a stopped container's network: %v", ns)
	}
	if st := got[0]["State"].(map[string]any); st["Status"] != "exited" || st["ExitCode"].(float64) != 137 {
		t.Errorf("a stopped container's state: %v", st)
	}
	// system df counts the container and its volume.
	df := b.run("system", "df")
	if !regexp.MustCompile(`(?m)^Containers +1 +0 `).MatchString(df) || !regexp.MustCompile(`(?m)^Local Volumes +1 +1 `).MatchString(df) || !regexp.MustCompile(`(?m)^Images +1 +1 `).MatchString(df) {
		t.Errorf("system df:\n%s", df)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
