package access

import (
	"net/http"
	"net/url"
)

// CrossSite reports whether r is a request a browser sent from another
// site that would change something with credentials: a method other than
// GET, HEAD or OPTIONS, an Authorization header, and an Origin that is not
// this hub's or Sec-Fetch-Site: cross-site. A browser may have cached
// Basic credentials for the hub and sends them with a page's "simple"
// request (a text/plain POST needs no preflight), so such a request is
// refused, on the JSON API and on /v2/ alike. Registry clients (docker,
// skopeo, berth) send neither header and are not affected.
func (ctl *Controller) CrossSite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	if r.Header.Get("Authorization") == "" {
		return false
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return true
	}
	origin, ok := r.Header["Origin"]
	if !ok {
		return false
	}
	if len(origin) != 1 {
		return true
	}
	u, err := url.Parse(origin[0])
	if err != nil || u.Host == "" {
		return true // "null" among them: a sandboxed page or a redirect chain
	}
	return u.Host != r.Host && u.Host != ctl.publicHost
}
