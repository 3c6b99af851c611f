package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
)

// Image is an image record: a root that keeps its config, manifest and
// layers alive. Its ID is its config's digest.
type Image struct {
	ID          digest.Digest
	Created     time.Time // from the config
	Size        int64     // unpacked, as Docker counts it
	Platform    string
	Added       time.Time
	LastTagTime time.Time
	// Manifest is the manifest the image came with ("" for images made
	// locally or loaded from a Docker archive).
	Manifest          digest.Digest
	ManifestMediaType string
	Layers            []ImageLayer
	// Blobs are further blobs the image keeps: its manifest, an index.
	Blobs []ImageBlob
}

// ImageLayer is one layer of an image, lowest first.
type ImageLayer struct {
	DiffID  digest.Digest
	ChainID digest.Digest
	Size    int64
}

// ImageBlob is a blob an image keeps besides config and layers.
type ImageBlob struct {
	Digest    digest.Digest
	MediaType string
}

// LayerBlob is a blob that holds a layer: in the store (Registry "") or
// known to be on a registry (a pushed layer's compressed digest).
type LayerBlob struct {
	DiffID    digest.Digest
	Blob      digest.Digest
	MediaType string
	Size      int64
	Registry  string
}

// Tag is a name pointing at an image.
type Tag struct {
	Ref     string // full reference: "localhost:5000/library/welcome:latest"
	Repo    string // "localhost:5000/library/welcome"
	Tag     string
	ImageID digest.Digest
	Created time.Time
}

// RepoDigest records that an image was pulled (or pushed) as repo@digest.
type RepoDigest struct {
	Repo    string
	Digest  digest.Digest
	ImageID digest.Digest
}

// PutImage records an image whose config and layers are in the store. It
// fails if any of them is missing, so a record never points at nothing.
// Recording an image that exists already updates nothing and succeeds.
func (tx *Tx) PutImage(ctx context.Context, img Image) error {
	if !tx.s.HasBlob(img.ID) {
		return fmt.Errorf("image %s: config blob missing: %w", img.ID, errdefs.ErrNotFound)
	}
	for _, l := range img.Layers {
		if !tx.s.HasLayer(l.ChainID) {
			return fmt.Errorf("image %s: layer %s is not unpacked: %w", img.ID, l.ChainID, errdefs.ErrNotFound)
		}
	}
	for _, b := range img.Blobs {
		if !tx.s.HasBlob(b.Digest) {
			return fmt.Errorf("image %s: blob %s missing: %w", img.ID, b.Digest, errdefs.ErrNotFound)
		}
	}
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO images (id, created, size, platform, added, manifest, manifest_media_type)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		img.ID.String(), nanos(img.Created), img.Size, img.Platform, nanos(time.Now()), img.Manifest.String(), img.ManifestMediaType)
	if err != nil {
		return fmt.Errorf("recording image %s: %w", img.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		for i, l := range img.Layers {
			if _, err := tx.tx.ExecContext(ctx, `INSERT INTO image_layers (image_id, position, diff_id, chain_id, size) VALUES (?, ?, ?, ?, ?)`,
				img.ID.String(), i, l.DiffID.String(), l.ChainID.String(), l.Size); err != nil {
				return err
			}
		}
	}
	for _, b := range img.Blobs {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO image_blobs (image_id, blob, media_type) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			img.ID.String(), b.Digest.String(), b.MediaType); err != nil {
			return err
		}
	}
	return nil
}

const imageColumns = `id, created, size, platform, added, last_tag_time, manifest, manifest_media_type`

func scanImage(row interface{ Scan(...any) error }) (Image, error) {
	var img Image
	var id, manifest string
	var created, added, tagged int64
	if err := row.Scan(&id, &created, &img.Size, &img.Platform, &added, &tagged, &manifest, &img.ManifestMediaType); err != nil {
		return img, err
	}
	img.ID, img.Manifest = digest.Digest(id), digest.Digest(manifest)
	img.Created, img.Added, img.LastTagTime = fromNanos(created), fromNanos(added), fromNanos(tagged)
	return img, nil
}

// Image reads one image record with its layers and blobs.
func (tx *Tx) Image(ctx context.Context, id digest.Digest) (Image, error) {
	img, err := scanImage(tx.tx.QueryRowContext(ctx, `SELECT `+imageColumns+` FROM images WHERE id = ?`, id.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return img, fmt.Errorf("image %s: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return img, err
	}
	if err := tx.fillImage(ctx, &img); err != nil {
		return img, err
	}
	return img, nil
}

func (tx *Tx) fillImage(ctx context.Context, img *Image) error {
	rows, err := tx.tx.QueryContext(ctx, `SELECT diff_id, chain_id, size FROM image_layers WHERE image_id = ? ORDER BY position`, img.ID.String())
	if err != nil {
		return err
	}
	defer rows.Close()
	img.Layers = img.Layers[:0]
	for rows.Next() {
		var l ImageLayer
		var diff, chain string
		if err := rows.Scan(&diff, &chain, &l.Size); err != nil {
			return err
		}
		l.DiffID, l.ChainID = digest.Digest(diff), digest.Digest(chain)
		img.Layers = append(img.Layers, l)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	brows, err := tx.tx.QueryContext(ctx, `SELECT blob, media_type FROM image_blobs WHERE image_id = ? ORDER BY blob`, img.ID.String())
	if err != nil {
		return err
	}
	defer brows.Close()
	img.Blobs = img.Blobs[:0]
	for brows.Next() {
		var b ImageBlob
		var d string
		if err := brows.Scan(&d, &b.MediaType); err != nil {
			return err
		}
		b.Digest = digest.Digest(d)
		img.Blobs = append(img.Blobs, b)
	}
	return brows.Err()
}

// Images lists every image record with its layers.
func (tx *Tx) Images(ctx context.Context) ([]Image, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT `+imageColumns+` FROM images ORDER BY created DESC, id`)
	if err != nil {
		return nil, err
	}
	var imgs []Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		imgs = append(imgs, img)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range imgs {
		if err := tx.fillImage(ctx, &imgs[i]); err != nil {
			return nil, err
		}
	}
	return imgs, nil
}

// ImagesByPrefix finds images whose ID (hex) starts with prefix.
func (tx *Tx) ImagesByPrefix(ctx context.Context, prefix string) ([]digest.Digest, error) {
	prefix = strings.TrimPrefix(prefix, "sha256:")
	rows, err := tx.tx.QueryContext(ctx, `SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id`,
		"sha256:"+prefix, "sha256:"+prefix+"\xff")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []digest.Digest
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, digest.Digest(id))
	}
	return ids, rows.Err()
}

// DeleteImage removes an image record (its tags and repo digests must be
// gone). The content it kept goes at the next sweep.
func (tx *Tx) DeleteImage(ctx context.Context, id digest.Digest) error {
	if _, err := tx.tx.ExecContext(ctx, `DELETE FROM repo_digests WHERE image_id = ?`, id.String()); err != nil {
		return err
	}
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM images WHERE id = ?`, id.String())
	if err != nil {
		return fmt.Errorf("deleting image %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("image %s: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// SetTag points ref at an image and returns the image it pointed at before
// ("" if none).
func (tx *Tx) SetTag(ctx context.Context, t Tag) (digest.Digest, error) {
	var old string
	err := tx.tx.QueryRowContext(ctx, `SELECT image_id FROM tags WHERE ref = ?`, t.Ref).Scan(&old)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	now := time.Now()
	if _, err := tx.tx.ExecContext(ctx, `INSERT INTO tags (ref, repo, tag, image_id, created) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (ref) DO UPDATE SET image_id = excluded.image_id, created = excluded.created`,
		t.Ref, t.Repo, t.Tag, t.ImageID.String(), nanos(now)); err != nil {
		return "", fmt.Errorf("tagging %s: %w", t.Ref, err)
	}
	if _, err := tx.tx.ExecContext(ctx, `UPDATE images SET last_tag_time = ? WHERE id = ?`, nanos(now), t.ImageID.String()); err != nil {
		return "", err
	}
	return digest.Digest(old), nil
}

// RemoveTag deletes ref, or returns ErrNotFound.
func (tx *Tx) RemoveTag(ctx context.Context, ref string) error {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM tags WHERE ref = ?`, ref)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("tag %s: %w", ref, errdefs.ErrNotFound)
	}
	return nil
}

// ResolveTag returns the image ref points at, or ErrNotFound.
func (tx *Tx) ResolveTag(ctx context.Context, ref string) (digest.Digest, error) {
	var id string
	err := tx.tx.QueryRowContext(ctx, `SELECT image_id FROM tags WHERE ref = ?`, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("tag %s: %w", ref, errdefs.ErrNotFound)
	}
	return digest.Digest(id), err
}

// Tags lists tags, all of them or those of one image.
func (tx *Tx) Tags(ctx context.Context, imageID digest.Digest) ([]Tag, error) {
	q, args := `SELECT ref, repo, tag, image_id, created FROM tags ORDER BY ref`, []any{}
	if imageID != "" {
		q, args = `SELECT ref, repo, tag, image_id, created FROM tags WHERE image_id = ? ORDER BY ref`, []any{imageID.String()}
	}
	rows, err := tx.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tags []Tag
	for rows.Next() {
		var t Tag
		var id string
		var created int64
		if err := rows.Scan(&t.Ref, &t.Repo, &t.Tag, &id, &created); err != nil {
			return nil, err
		}
		t.ImageID, t.Created = digest.Digest(id), fromNanos(created)
		tags = append(tags, t)
	}
	return tags, rows.Err()
}

// AddRepoDigest records repo@digest for an image.
func (tx *Tx) AddRepoDigest(ctx context.Context, rd RepoDigest) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO repo_digests (repo, digest, image_id) VALUES (?, ?, ?)
		ON CONFLICT (repo, digest) DO UPDATE SET image_id = excluded.image_id`, rd.Repo, rd.Digest.String(), rd.ImageID.String())
	return err
}

// RemoveRepoDigest deletes repo@digest, or returns ErrNotFound.
func (tx *Tx) RemoveRepoDigest(ctx context.Context, repo string, d digest.Digest) error {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM repo_digests WHERE repo = ? AND digest = ?`, repo, d.String())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s@%s: %w", repo, d, errdefs.ErrNotFound)
	}
	return nil
}

// RepoDigests lists repo digests, all or those of one image.
func (tx *Tx) RepoDigests(ctx context.Context, imageID digest.Digest) ([]RepoDigest, error) {
	q, args := `SELECT repo, digest, image_id FROM repo_digests ORDER BY repo, digest`, []any{}
	if imageID != "" {
		q, args = `SELECT repo, digest, image_id FROM repo_digests WHERE image_id = ? ORDER BY repo, digest`, []any{imageID.String()}
	}
	rows, err := tx.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RepoDigest
	for rows.Next() {
		var rd RepoDigest
		var d, id string
		if err := rows.Scan(&rd.Repo, &d, &id); err != nil {
			return nil, err
		}
		rd.Digest, rd.ImageID = digest.Digest(d), digest.Digest(id)
		out = append(out, rd)
	}
	return out, rows.Err()
}

// AddLayerBlob records a blob that holds a layer.
func (tx *Tx) AddLayerBlob(ctx context.Context, lb LayerBlob) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO layer_blobs (diff_id, blob, media_type, size, registry) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, lb.DiffID.String(), lb.Blob.String(), lb.MediaType, lb.Size, lb.Registry)
	return err
}

// LayerBlobs lists the blobs known to hold a layer.
func (tx *Tx) LayerBlobs(ctx context.Context, diffID digest.Digest) ([]LayerBlob, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT blob, media_type, size, registry FROM layer_blobs WHERE diff_id = ? ORDER BY registry, blob`, diffID.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LayerBlob
	for rows.Next() {
		lb := LayerBlob{DiffID: diffID}
		var b string
		if err := rows.Scan(&b, &lb.MediaType, &lb.Size, &lb.Registry); err != nil {
			return nil, err
		}
		lb.Blob = digest.Digest(b)
		out = append(out, lb)
	}
	return out, rows.Err()
}
