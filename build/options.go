package build

import (
	"io"
	"time"
)

// Options configure one build, as `berth build`'s flags do.
type Options struct {
	// ContextDir is the build context; "" for none (a Containerfile read
	// from stdin with no context).
	ContextDir string
	// File is the Containerfile's path; "" looks for Containerfile, then
	// Dockerfile, in the context. FileData, when set, is its text (-f -).
	File     string
	FileData []byte
	Tags     []string
	// BuildArgs are --build-arg values; a nil value takes the variable
	// from the environment, as Docker does.
	BuildArgs map[string]*string
	Labels    map[string]string
	Target    string
	NoCache   bool
	Pull      bool
	// Network is RUN's default network: "default", "none" or "host".
	Network string
	// Secrets maps a secret's id to the file that holds it.
	Secrets map[string]string
	// SourceDateEpoch, when set, is every created time and the latest
	// mtime in the layers, for a reproducible image.
	SourceDateEpoch *time.Time
	// Progress receives the progress lines; nil for none. With
	// ProgressTTY a step's output is a window redrawn in place.
	Progress    io.Writer
	ProgressTTY bool
}

// Result is what a build made.
type Result struct {
	ID string // the image ID, "sha256:…"
	// Cached counts the steps that made a layer and were served by the
	// cache; Ran counts those that ran.
	Cached, Ran int
}
