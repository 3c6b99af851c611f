package hub

import "net/http"

func (h *Hub) serveAPI(w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}
