package image

import (
	"errors"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
)

const (
	d1 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	d2 = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
)

func TestParseManifest(t *testing.T) {
	dockerManifest := `{"schemaVersion":2,"mediaType":"` + MediaTypeDockerManifest + `","config":{"mediaType":"` + MediaTypeDockerConfig + `","size":10,"digest":"` + d1 + `"},"layers":[{"mediaType":"` + MediaTypeDockerLayer + `","size":5,"digest":"` + d2 + `"}]}`
	ociNoMT := `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":10,"digest":"` + d1 + `"},"layers":[]}`
	ociIndex := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7,"digest":"` + d1 + `","platform":{"os":"linux","architecture":"amd64"}}]}`
	dockerList := strings.Replace(ociIndex, ocispec.MediaTypeImageIndex, MediaTypeDockerManifestList, 1)
	withSubject := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"` + d1 + `"},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":3,"digest":"` + d2 + `"}}`

	tests := []struct {
		name, declared, body, wantMT string
		children                     int
		subject                      bool
	}{
		{"docker schema2", MediaTypeDockerManifest, dockerManifest, MediaTypeDockerManifest, 2, false},
		{"docker schema2 sniffed", "", dockerManifest, MediaTypeDockerManifest, 2, false},
		{"oci without mediaType field", ocispec.MediaTypeImageManifest, ociNoMT, ocispec.MediaTypeImageManifest, 1, false},
		{"oci sniffed from body", "", ociNoMT, ocispec.MediaTypeImageManifest, 1, false},
		{"oci index", ocispec.MediaTypeImageIndex, ociIndex, ocispec.MediaTypeImageIndex, 1, false},
		{"docker list", "", dockerList, MediaTypeDockerManifestList, 1, false},
		{"referrer with subject", "", withSubject, ocispec.MediaTypeImageManifest, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseManifest(tt.declared, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if p.MediaType != tt.wantMT {
				t.Errorf("media type %q, want %q", p.MediaType, tt.wantMT)
			}
			if len(p.Children()) != tt.children {
				t.Errorf("%d children, want %d", len(p.Children()), tt.children)
			}
			if (p.Subject() != nil) != tt.subject {
				t.Errorf("subject %v", p.Subject())
			}
		})
	}
}

func TestParseManifestRejects(t *testing.T) {
	tests := []struct {
		name, declared, body string
		kind                 error
		want                 string
	}{
		{"schema1 by header", MediaTypeDockerSchema1JWS, `{}`, errdefs.ErrUnsupported, "schema 1"},
		{"schema1 by body", "", `{"schemaVersion":1,"fsLayers":[]}`, errdefs.ErrUnsupported, "schema 1"},
		{"not json", "", `{`, errdefs.ErrInvalid, "not valid JSON"},
		{"no schemaVersion", "", `{"config":{}}`, errdefs.ErrInvalid, "schemaVersion"},
		{"mismatched media type", ocispec.MediaTypeImageIndex, `{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageManifest + `","config":{"digest":"` + d1 + `","size":1}}`, errdefs.ErrInvalid, "declares media type"},
		{"bad config digest", "", `{"schemaVersion":2,"config":{"digest":"sha256:xyz","size":1},"layers":[]}`, errdefs.ErrInvalid, "config"},
		{"negative layer size", "", `{"schemaVersion":2,"config":{"digest":"` + d1 + `","size":1},"layers":[{"digest":"` + d2 + `","size":-1}]}`, errdefs.ErrInvalid, "negative"},
		{"unknown media type", "", `{"schemaVersion":2,"mediaType":"text/plain"}`, errdefs.ErrUnsupported, "text/plain"},
		{"neither", "", `{"schemaVersion":2}`, errdefs.ErrInvalid, "neither"},
		{"no config", ocispec.MediaTypeImageManifest, `{"schemaVersion":2,"layers":[]}`, errdefs.ErrInvalid, "no config"},
		{"bad index child", "", `{"schemaVersion":2,"manifests":[{"digest":"nope","size":1}]}`, errdefs.ErrInvalid, "manifests[0]"},
		{"too large", "", `{"schemaVersion":2,"x":"` + strings.Repeat("a", MaxManifestSize) + `"}`, errdefs.ErrInvalid, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest(tt.declared, []byte(tt.body))
			if err == nil {
				t.Fatal("parsed")
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want kind %v mentioning %q", err, tt.kind, tt.want)
			}
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add("", []byte(`{"schemaVersion":2,"config":{"digest":"`+d1+`","size":1},"layers":[]}`))
	f.Add(ocispec.MediaTypeImageIndex, []byte(`{"schemaVersion":2,"manifests":[]}`))
	f.Add(MediaTypeDockerSchema1, []byte(`{"schemaVersion":1}`))
	f.Fuzz(func(t *testing.T, declared string, body []byte) {
		p, err := ParseManifest(declared, body)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrUnsupported) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if (p.Manifest == nil) == (p.Index == nil) {
			t.Fatalf("exactly one of manifest and index must be set: %+v", p)
		}
		for _, c := range p.Children() {
			if err := ValidateDescriptor(c); err != nil {
				t.Fatalf("accepted a manifest with an invalid child: %v", err)
			}
		}
	})
}

func TestSelectManifest(t *testing.T) {
	idx := &ocispec.Index{Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:a", Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:b", Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:c", Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:d", Platform: &ocispec.Platform{OS: "unknown", Architecture: "unknown"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:e", Platform: &ocispec.Platform{OS: "linux", Architecture: "aarch64", Variant: "v8"}},
	}}
	tests := []struct{ want, got string }{
		{"linux/arm/v7", "sha256:b"},
		{"linux/arm/v6", "sha256:a"},
		{"linux/amd64", "sha256:c"},
		{"linux/x86_64", "sha256:c"},
		{"linux/arm64", "sha256:e"},
		{"linux/arm64/v8", "sha256:e"},
	}
	for _, tt := range tests {
		p, err := ParsePlatform(tt.want)
		if err != nil {
			t.Fatal(err)
		}
		d, err := SelectManifest(idx, p)
		if err != nil || d.Digest.String() != tt.got {
			t.Errorf("%s: got %s, %v; want %s", tt.want, d.Digest, err, tt.got)
		}
	}
	p, _ := ParsePlatform("linux/s390x")
	if _, err := SelectManifest(idx, p); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "no matching manifest for linux/s390x") {
		t.Errorf("s390x: %v", err)
	}
	for _, bad := range []string{"", "linux//amd64", "a/b/c/d"} {
		if _, err := ParsePlatform(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParsePlatform(%q): %v", bad, err)
		}
	}
}

func TestConfig(t *testing.T) {
	raw := `{"architecture":"amd64","os":"linux","config":{"Cmd":"/bin/sh","Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":["` + d1 + `","` + d2 + `"]},
	"history":[{"created_by":"ADD a"},{"created_by":"ENV A=1","empty_layer":true},{"created_by":"ADD b"}]}`
	c, err := ParseConfig([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Config.Cmd) != 1 || c.Config.Cmd[0] != "/bin/sh" {
		t.Errorf("Cmd as string: %q", c.Config.Cmd)
	}
	if got := c.LayerHistory(); len(got) != 3 || got[0] != 0 || got[1] != -1 || got[2] != 1 {
		t.Errorf("LayerHistory = %v", got)
	}
	chain := ChainIDs(c.RootFS.DiffIDs)
	if chain[0].String() != d1 || chain[1] == c.RootFS.DiffIDs[1] || c.RootFS.DiffIDs[1].String() != d2 {
		t.Errorf("ChainIDs = %v (diffIDs %v)", chain, c.RootFS.DiffIDs)
	}
	if _, err := ParseConfig([]byte(`{"rootfs":{"type":"layers","diff_ids":["bad"]}}`)); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("bad diff id: %v", err)
	}
}
