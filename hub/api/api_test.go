package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/search"
)

// failingStore fails StarredBy with err; anything else it is not asked.
type failingStore struct {
	Store
	err error
}

func (s failingStore) StarredBy(context.Context, string) ([]string, error) { return nil, s.err }

// alice is every request's sender.
type alice struct{ Access }

func (alice) Identify(*http.Request) (access.Identity, error) {
	return access.Identity{User: "alice"}, nil
}

func (alice) CrossSite(*http.Request) bool { return false }

// TestErrorsAnswerWithTheKindsStatus: a store error reaches the client
// with errdefs.HTTPStatus's status for its kind, as {"error": message}.
func TestErrorsAnswerWithTheKindsStatus(t *testing.T) {
	for _, kind := range []error{errdefs.ErrNotFound, errdefs.ErrInvalid, errdefs.ErrDenied, errdefs.ErrConflict, errdefs.ErrUnauthorized, errors.New("no kind")} {
		err := fmt.Errorf("reading stars: %w", kind)
		srv := New(Config{}, failingStore{err: err}, nil, search.New(), alice{}, nil)
		rec := httptest.NewRecorder()
		srv.ServeAPI(rec, httptest.NewRequest(http.MethodGet, "/api/v1/user", nil))
		if want := errdefs.HTTPStatus(err); rec.Code != want {
			t.Errorf("%v: status %d, want %d", kind, rec.Code, want)
		}
		if !strings.Contains(rec.Body.String(), `"error":"reading stars: `) {
			t.Errorf("%v: body %s", kind, rec.Body.String())
		}
	}
}
