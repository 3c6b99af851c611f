package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

// assets are the pages, embedded in the binary. assets/vendor holds
// xterm.js, copied there from the npm package by `make build` (web/, npm
// ci); a binary built without it still serves everything else, and the
// Exec tab says what is missing.
//
//go:embed assets
var assets embed.FS

func assetHandler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the directory is part of the source tree
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// vendored reports whether xterm.js was built into this binary.
func vendored() bool {
	_, err := fs.Stat(assets, "assets/vendor/xterm.js")
	return err == nil
}
