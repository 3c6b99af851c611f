package sbom

// maxCopySize bounds a candidate file (a jar, an rpm database, an
// executable) copied out of a layer tar to be parsed. A tar declares each
// file's size, and a sparse file costs the tar nothing for its holes: a
// layer of a few KB can declare a jar of exabytes, which the copy would
// write to the temporary directory in full. The largest real jars and
// Go binaries are well under 2 GB.
const maxCopySize = 2 << 30

// withCopyLimit changes maxCopySize, for tests.
func withCopyLimit(n int64) Option { return func(s *scanner) { s.copyLimit = n } }
