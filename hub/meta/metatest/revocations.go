package metatest

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/hub/meta"
)

// testRevocations checks that a revoked token stays revoked until it
// expires, that revoking twice is harmless, and that revoking prunes what
// has expired.
func testRevocations(t *testing.T, s meta.Store) {
	ctx := context.Background()
	revoked := func(id string) bool {
		t.Helper()
		ok, err := s.TokenRevoked(ctx, id)
		if err != nil {
			t.Fatalf("TokenRevoked(%s): %v", id, err)
		}
		return ok
	}
	if revoked("live") {
		t.Fatal("a token nobody revoked is revoked")
	}
	for range 2 {
		if err := s.RevokeToken(ctx, "live", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if !revoked("live") {
		t.Fatal("a revoked token is not revoked")
	}
	if revoked("other") {
		t.Fatal("revoking one token revoked another")
	}
	if err := s.RevokeToken(ctx, "stale", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Revoking again with an earlier expiry must not shorten a revocation.
	if err := s.RevokeToken(ctx, "live", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "next", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if revoked("stale") {
		t.Error("the revocation of an expired token was not pruned by the next revocation")
	}
	if !revoked("live") || !revoked("next") {
		t.Error("pruning forgot revocations of tokens that have not expired")
	}
}
