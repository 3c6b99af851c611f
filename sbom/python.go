package sbom

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strings"
)

// parsePythonMetadata reads a core-metadata file (a wheel's METADATA, an
// egg's PKG-INFO): email-style headers up to the first blank line.
func parsePythonMetadata(b []byte) (*Package, error) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	h, err := r.ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	name, version := h.Get("Name"), h.Get("Version")
	if name == "" || version == "" {
		return nil, errors.New("core metadata has no Name or Version")
	}
	p := &Package{Name: name, Version: version, Type: TypePython}
	if l := h.Get("License-Expression"); l != "" {
		p.Licenses = []string{l}
	} else if l := strings.TrimSpace(h.Get("License")); l != "" && l != "UNKNOWN" && !strings.Contains(l, "\n") {
		p.Licenses = []string{l}
	}
	if len(p.Licenses) == 0 {
		for _, c := range h.Values("Classifier") {
			if l, ok := strings.CutPrefix(c, "License :: "); ok {
				parts := strings.Split(l, " :: ")
				p.Licenses = append(p.Licenses, parts[len(parts)-1])
			}
		}
	}
	return p, nil
}
