// Package rules holds the tests that keep the code in its shape, so that
// nobody has to remember it: which package may import which (the layers
// drawn in docs/architecture.md), and how long a function may grow.
// It has no code of its own.
package rules
