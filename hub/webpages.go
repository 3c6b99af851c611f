package hub

import (
	"net/http"
	"sync"

	"github.com/berth-dev/berth/hub/access"
	"github.com/berth-dev/berth/hub/web"
)

// webPages are the hub's web pages (package web), made at first use. They
// call the JSON API and the token endpoint in process, past the metrics
// and the request log, which count the page itself.
type webPages struct {
	once sync.Once
	site http.Handler
}

func (h *Hub) serveWeb(w http.ResponseWriter, r *http.Request) {
	h.web.once.Do(func() {
		api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/token":
				h.access.ServeToken(w, r)
				return
			case "/token/revoke":
				h.access.ServeRevoke(w, r)
				return
			}
			h.api.ServeAPI(w, r)
		})
		site, err := web.New(web.Options{API: api, PublicURL: h.cfg.PublicURL, Service: h.service, Logger: h.log})
		if err != nil {
			h.log.Error("web pages unavailable", "err", err)
			h.web.site = http.NotFoundHandler()
			return
		}
		h.web.site = site
	})
	// The pages call the token endpoint in process, from no address of
	// their own: sign-in attempts must count against the browser's.
	ctx := access.WithClient(r)
	h.web.site.ServeHTTP(w, r.WithContext(ctx))
}
