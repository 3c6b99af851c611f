package hub_test

import (
	"net/http"
	"path/filepath"
	"testing"
)

// TestSignInFlags: `berth hub serve --signin-failures N` sets the limit the
// hub throttles at, and 0 turns it off.
func TestSignInFlags(t *testing.T) {
	try := func(addr string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/token?service=x", nil)
		req.SetBasicAuth("mallory", "guess")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	limited := startHub(t, filepath.Join(t.TempDir(), "a"), "--no-seed", "--signin-failures", "2")
	var got []int
	for range 3 {
		got = append(got, try(limited.Addr))
	}
	if got[0] != 401 || got[1] != 401 || got[2] != 429 {
		t.Errorf("--signin-failures 2: statuses %v, want [401 401 429]", got)
	}
	off := startHub(t, filepath.Join(t.TempDir(), "b"), "--no-seed", "--signin-failures", "0", "--signin-failures-per-ip", "0")
	for i := range 25 {
		if code := try(off.Addr); code != 401 {
			t.Fatalf("limits off: attempt %d answered %d", i+1, code)
		}
	}
}
