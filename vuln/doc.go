// Package vuln matches an image's inventory against an offline database of
// OSV advisories.
//
// The database (DB) is one SQLite file filled by Import (OSV JSON files,
// directories of them, or the per-ecosystem zip exports OSV publishes) and
// refreshed by Update from any HTTP mirror with OSV's layout
// (<base>/<Ecosystem>/all.zip). Both are single transactions: a failure
// leaves the database as it was.
//
// Match looks up each package under the name its ecosystem's advisories use
// (distro advisories name source packages, so a binary package is also
// looked up by its source), keeps the advisories whose ecosystem applies to
// the image's distro release, and evaluates their ranges in that
// ecosystem's version order (package version). Withdrawn advisories are
// never stored. Rate gives each finding a severity from its CVSS vector,
// else the advisory's own rating, else Unknown; package report renders
// findings for the CLI.
package vuln
