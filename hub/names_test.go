package hub_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/hubtest"
)

// TestNamesRoutedByGrammar: a path is split by what the spec allows in a
// name and a reference, not by the first "/manifests/" in it, and a name
// too long once library/ is put before it is refused as a name, not as a
// lack of credentials (issue 16, finding 8).
func TestNamesRoutedByGrammar(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	code, body := req(t, http.MethodPost, h.URL+"/v2/alice/manifests/blobs/uploads/", "", nil)
	if code != http.StatusAccepted {
		t.Errorf("upload to alice/manifests: %d %s, want 202", code, body)
	}
	im := hubtest.RandomImage(t, 1, 10)
	pushImage(t, h.URL, "alice/manifests", "v1", im)
	if code, body := req(t, http.MethodGet, h.URL+"/v2/alice/manifests/manifests/v1", "", nil); code != http.StatusOK {
		t.Errorf("pull alice/manifests:v1: %d %s", code, body)
	}

	a := hubtest.New(t, hubtest.Options{Auth: true})
	for _, n := range []int{248, 255} {
		name := strings.Repeat("a", n)
		code, body := req(t, http.MethodGet, a.URL+"/v2/"+name+"/manifests/latest", "", nil)
		var e struct{ Errors []struct{ Code string } }
		_ = json.Unmarshal(body, &e)
		if code != http.StatusBadRequest || len(e.Errors) != 1 || e.Errors[0].Code != "NAME_INVALID" {
			t.Errorf("a %d-character name: %d %.200s, want 400 NAME_INVALID", n, code, body)
		}
	}
}
