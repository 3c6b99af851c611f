package store

import (
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// The local store's on-disk layout, in one place (as distribution's paths.go).
//
//	$BERTH_ROOT/
//	  berth.db                   SQLite in WAL mode: images, tags, repo digests, the
//	                             compressed blobs known per layer, containers, leases.
//	  blobs/<alg>/<hex>          verified blobs, read-only (mode 0444): manifests, configs,
//	                             and the layer blobs worth keeping: compressed ones as
//	                             pulled (a push sends them as they are; `image prune
//	                             --compressed` drops them), and the uncompressed blob of a
//	                             lossy layer. A layer loaded or imported uncompressed has
//	                             no blob: its files and tar-split record give its tar.
//	                             A file here has been hashed and renamed in; nothing else is.
//	  ingest/<alg>-<hex>/        one blob being written: "data" (the bytes so far, kept
//	                             across a crash so a download can resume) and "lock"
//	                             (flock held by the writing process).
//	  layers/<hex>/              one unpacked layer, named by its chain ID (the layer
//	                             together with every layer under it, since a layer's
//	                             whiteouts and copied-up hardlinks depend on its parents):
//	    fs/                      the layer's own files, an overlayfs lower directory;
//	                             whiteouts are 0/0 char devices, opaque dirs carry
//	                             trusted.overlay.opaque=y.
//	    tar-split.json.gz        the tar's headers, padding and entry order, with a CRC64
//	                             of each file's payload (vbatts/tar-split, as moby and
//	                             containers/storage keep): with fs/ it regenerates the
//	                             layer's tar byte for byte, checked against the diff ID.
//	                             Absent for a lossy layer (GNU sparse entries, a path
//	                             twice: fs/ cannot give the tar back), which keeps its
//	                             blob, and for layers stored before records existed.
//	    layer.json               chain ID, diff ID, parent chain ID, size as Docker counts
//	                             it, the tar's size, why the layer is lossy if it is.
//	  layers/tmp/<rand>/         a layer being unpacked, with a sibling "<rand>.lock"
//	                             flock; renamed to layers/<hex> only after its diff ID
//	                             matched.
//	  unsynced/<boot ID>         made durable before the first blob or layer of a boot is
//	                             renamed in without a sync (durable.go): the first Open in
//	                             a later boot sweeps unreachable content a power cut may
//	                             have torn, then removes it.
//	  locks/<name>               flock files that serialise work on one blob or layer
//	                             across berth processes.
//	  trash/                     what a sweep moved out of the way, deleted outside the
//	                             database lock.
//	  tmp/                       scratch space (spooled stdin for load).
//	  containers/<id>/           owned by the runtime.
//	  volumes/<name>/            owned by the runtime.
//
// Nothing under blobs/ or layers/<hex> is ever modified in place: content is
// written elsewhere and renamed in, so a killed process leaves either the old
// state or the new one. Content becomes durable at the one syncfs each command
// makes before its metadata commit (Update), so a record never reaches content
// a power cut could take back. The database says which images and containers exist;
// the filesystem says which content exists. `berth system check` reconciles them.
const (
	dbFile        = "berth.db"
	blobsDir      = "blobs"
	ingestDir     = "ingest"
	layersDir     = "layers"
	layerTmpDir   = "tmp" // under layers/
	layerFSDir    = "fs"
	layerMeta     = "layer.json"
	layerTarSplit = "tar-split.json.gz"
	unsyncedDir   = "unsynced"
	locksDir      = "locks"
	trashDir      = "trash"
	scratchDir    = "tmp"
	containerDir  = "containers"
	volumeDir     = "volumes"
)

func (s *Store) blobPath(d digest.Digest) string {
	return filepath.Join(s.root, blobsDir, string(d.Algorithm()), d.Encoded())
}

func (s *Store) ingestPath(d digest.Digest) string {
	return filepath.Join(s.root, ingestDir, string(d.Algorithm())+"-"+d.Encoded())
}

func (s *Store) layerPath(chainID digest.Digest) string {
	return filepath.Join(s.root, layersDir, chainID.Encoded())
}

// LayerDir is the unpacked directory of the layer with this chain ID: an
// overlayfs lower directory.
func (s *Store) LayerDir(chainID digest.Digest) string {
	return filepath.Join(s.layerPath(chainID), layerFSDir)
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// ContainersDir is where the runtime keeps its containers.
func (s *Store) ContainersDir() string { return filepath.Join(s.root, containerDir) }

// VolumesDir is where the runtime keeps named volumes.
func (s *Store) VolumesDir() string { return filepath.Join(s.root, volumeDir) }

// ScratchDir is temporary space on the store's filesystem.
func (s *Store) ScratchDir() string { return filepath.Join(s.root, scratchDir) }
