package sbom

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"

	dbi "github.com/knqyf263/go-rpmdb/pkg/db"
	"github.com/knqyf263/go-rpmdb/pkg/ndb"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// go-rpmdb's top-level package registers its own "sqlite" driver
// (glebarez/go-sqlite), which clashes with modernc.org/sqlite that berth
// uses everywhere; so berth takes only its NDB page reader and reads the
// BerkeleyDB (rpmbdb.go) and SQLite rpmdbs and the header blobs itself.

var sqliteMagic = []byte("SQLite format 3\x00")

// parseRpmDB lists the packages of an rpm database in any of its formats.
func (s *scanner) parseRpmDB(c *content) ([]Package, error) {
	head := make([]byte, 16)
	if _, err := c.readerAt().ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("rpm database: %w", err)
	}
	p, cleanup, err := c.localPath(s.tempDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	blobs, err := rpmBlobs(p, head)
	if err != nil {
		return nil, fmt.Errorf("rpm database: %w", err)
	}
	var out []Package
	for i, b := range blobs {
		pkg, err := parseRpmHeader(b)
		if err != nil {
			return nil, fmt.Errorf("rpm database: header %d: %w", i, err)
		}
		if pkg != nil {
			out = append(out, *pkg)
		}
	}
	return out, nil
}

func rpmBlobs(p string, head []byte) ([][]byte, error) {
	switch {
	case bytes.Equal(head, sqliteMagic):
		return sqliteRpmBlobs(p)
	case binary.LittleEndian.Uint32(head) == ndb.NDB_HeaderMagic:
		db, err := ndb.Open(p)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		return drain(db.Read())
	}
	return bdbBlobs(p)
}

// drain collects a go-rpmdb reader's blobs; it reads the channel to the end
// so the reader's goroutine finishes.
func drain(ch <-chan dbi.Entry) ([][]byte, error) {
	var out [][]byte
	var first error
	for e := range ch {
		if e.Err != nil {
			if first == nil {
				first = e.Err
			}
			continue
		}
		out = append(out, e.Value)
	}
	return out, first
}

func sqliteRpmBlobs(p string) ([][]byte, error) {
	// immutable: the copy is read once and never locked; nothing is written
	db, err := sql.Open("sqlite", "file:"+url.PathEscape(p)+"?mode=ro&immutable=1")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query("SELECT blob FROM Packages")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// rpm header tags and types (rpm's lib/rpmtag.h).
const (
	tagName      = 1000
	tagVersion   = 1001
	tagRelease   = 1002
	tagEpoch     = 1003
	tagLicense   = 1014
	tagArch      = 1022
	tagSourceRPM = 1044

	typeInt32       = 4
	typeString      = 6
	typeStringArray = 8
	typeI18NString  = 9
)

var errRpmHeader = errors.New("malformed header")

// parseRpmHeader reads the fields berth needs from one header blob as rpmdb
// stores it: index count, data length, index entries, data. It returns nil
// for the gpg-pubkey pseudo-packages rpm keeps imported keys in.
func parseRpmHeader(b []byte) (*Package, error) {
	if len(b) < 8 {
		return nil, errRpmHeader
	}
	il := binary.BigEndian.Uint32(b[0:4])
	dl := binary.BigEndian.Uint32(b[4:8])
	if il > 1<<16 || dl > 256<<20 || 8+uint64(il)*16+uint64(dl) > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d entries, %d data bytes in %d", errRpmHeader, il, dl, len(b))
	}
	data := b[8+il*16 : 8+il*16+dl]
	strs := map[uint32]string{}
	var epoch *uint32
	for i := uint32(0); i < il; i++ {
		e := b[8+i*16:]
		tag := binary.BigEndian.Uint32(e[0:4])
		typ := binary.BigEndian.Uint32(e[4:8])
		off := binary.BigEndian.Uint32(e[8:12])
		cnt := binary.BigEndian.Uint32(e[12:16])
		switch tag {
		case tagName, tagVersion, tagRelease, tagLicense, tagArch, tagSourceRPM:
			if typ != typeString && typ != typeI18NString && typ != typeStringArray {
				return nil, fmt.Errorf("%w: tag %d has type %d", errRpmHeader, tag, typ)
			}
			if off >= dl {
				return nil, fmt.Errorf("%w: tag %d offset out of range", errRpmHeader, tag)
			}
			end := bytes.IndexByte(data[off:], 0)
			if end < 0 {
				return nil, fmt.Errorf("%w: tag %d string not terminated", errRpmHeader, tag)
			}
			strs[tag] = string(data[off : off+uint32(end)])
		case tagEpoch:
			if typ != typeInt32 || cnt < 1 || uint64(off)+4 > uint64(dl) {
				return nil, fmt.Errorf("%w: bad epoch", errRpmHeader)
			}
			v := binary.BigEndian.Uint32(data[off:])
			epoch = &v
		}
	}
	name := strs[tagName]
	if name == "" || strs[tagVersion] == "" {
		return nil, fmt.Errorf("%w: no name or version", errRpmHeader)
	}
	if name == "gpg-pubkey" {
		return nil, nil
	}
	version := strs[tagVersion]
	if r := strs[tagRelease]; r != "" {
		version += "-" + r
	}
	if epoch != nil && *epoch != 0 {
		version = fmt.Sprintf("%d:%s", *epoch, version)
	}
	p := &Package{Name: name, Version: version, Type: TypeRPM, Arch: strs[tagArch]}
	if l := strs[tagLicense]; l != "" {
		p.Licenses = []string{l}
	}
	if srpm := strs[tagSourceRPM]; srpm != "" && srpm != "(none)" {
		p.Source, p.SourceVersion = splitSourceRPM(srpm)
	}
	return p, nil
}

// splitSourceRPM turns "glibc-2.28-225.el8.src.rpm" into ("glibc", "2.28-225.el8").
func splitSourceRPM(s string) (name, version string) {
	s = strings.TrimSuffix(s, ".rpm")
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[:i] // the arch: src or nosrc
	}
	r := strings.LastIndexByte(s, '-')
	if r <= 0 {
		return s, ""
	}
	v := strings.LastIndexByte(s[:r], '-')
	if v <= 0 {
		return s, ""
	}
	return s[:v], s[v+1:]
}
