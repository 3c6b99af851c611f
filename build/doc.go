// Package build turns a Containerfile into an image: BuildKit's own
// parser reads it (github.com/moby/buildkit/frontend/dockerfile), and
// this package dispatches its instructions. Config instructions change
// the image config; COPY and ADD write their files straight into a fresh
// layer directory; RUN runs in a container the engine makes over the
// stage's layers, whose upper directory, cleaned, becomes the layer. The
// store commits both without copying them again.
//
// Every step that makes a layer has a cache key: the key of the step
// before it (which goes back to the base image's ID), the expanded
// instruction with its flags and heredoc bodies, the build args the stage
// declared, and for COPY and ADD a hash of the files they bring in. A key
// met before reuses its layer by chain ID: no container, no copy.
//
// The package imports the engine, never the runtime (ctr): a RUN step is
// a container the engine runs.
package build
