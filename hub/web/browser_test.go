package web_test

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/hubtest"
	"github.com/berth-dev/berth/internal/webtest"
)

// TestBrowserHubWalk walks the pages in chromium (web/tests/hub.mjs):
// search, the Official filter, a repository, sign in, star, the count
// going up, the namespace, sign out. Screenshots: webtest.OutDir/hub.
func TestBrowserHubWalk(t *testing.T) {
	webtest.Ready(t)
	h := hubtest.New(t, hubtest.Options{Auth: true, Seed: true})
	h.AddUser(t, "alice", "secret")
	h.PushRandom(t, "alice/welcome-notes:1", 1, 512)
	h.SetRepo(t, "alice/welcome-notes", hubtest.Repo{Description: hubtest.Ptr("notes on the welcome image"), Badge: hubtest.Ptr("verified_publisher")})
	webtest.Script(t, "hub.mjs", 2*time.Minute, "BERTH_HUB_URL="+h.URL, "HUB_USER=alice", "HUB_PASSWORD=secret")
}
