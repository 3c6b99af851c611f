package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/retry"
)

// StatBlob asks whether the repository holds a blob (HEAD). It returns the
// blob's size, or an error wrapping errdefs.ErrNotFound.
func (r *Repository) StatBlob(ctx context.Context, d digest.Digest) (int64, error) {
	u, err := r.url(ctx, "/v2/"+r.Path+"/blobs/"+d.String(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := r.send(ctx, request{method: http.MethodHead, url: u, watch: true})
	if err != nil {
		return 0, err
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return 0, &Error{Status: resp.StatusCode, Method: http.MethodHead, URL: redact(resp.Request.URL),
			Message: fmt.Sprintf("blob %s: %s", d, strings.ToLower(http.StatusText(resp.StatusCode)))}
	}
	return resp.ContentLength, nil
}

// FetchBlob reads a small blob (a config) whole, at most limit bytes, and
// verifies its digest and size.
func (r *Repository) FetchBlob(ctx context.Context, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit {
		return nil, fmt.Errorf("blob %s is %d bytes, more than the %d allowed: %w", desc.Digest, desc.Size, limit, errdefs.ErrInvalid)
	}
	// The transfer retries itself; what it cannot fix is bytes damaged on
	// the way, fetched again here.
	var b []byte
	err := retry.DoIf(ctx, r.c.opts.Retry, isMismatch, func(int) error {
		var err error
		b, err = r.fetchBlob(ctx, desc)
		return err
	})
	return b, err
}

func isMismatch(err error) bool { return errors.Is(err, errdefs.ErrDigestMismatch) }

func (r *Repository) fetchBlob(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	rc, err := r.OpenBlob(ctx, desc, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
		return nil, fmt.Errorf("blob %s hashed to %s: %w", desc.Digest, got, errdefs.ErrDigestMismatch)
	}
	return b, nil
}

// OpenBlob streams a blob from offset on. The stream ends after exactly
// desc.Size bytes; if a transfer breaks, stalls or ends early, it is
// resumed with an HTTP Range request where it stopped, with the client's
// retry policy, so the caller sees one unbroken stream or an error after
// the policy's attempts failed in a row. This is the one level that
// retries a blob download: its requests are not retried under it, and a
// caller retries only what a transfer cannot fix (damaged bytes). The
// caller verifies the digest.
//
// If the registry does not have the blob and the descriptor lists foreign
// URLs, those are tried, without any credentials.
func (r *Repository) OpenBlob(ctx context.Context, desc ocispec.Descriptor, offset int64) (io.ReadCloser, error) {
	if err := image.ValidateDescriptor(desc); err != nil {
		return nil, err
	}
	if offset < 0 || offset > desc.Size {
		return nil, fmt.Errorf("blob %s: offset %d outside its %d bytes: %w", desc.Digest, offset, desc.Size, errdefs.ErrInvalid)
	}
	b := &blobReader{ctx: ctx, r: r, desc: desc, pos: offset, retry: r.c.opts.Retry.Start()}
	if offset == desc.Size {
		return b, nil
	}
	if err := b.open(); err != nil {
		return nil, err
	}
	return b, nil
}

// blobReader is a resumable blob download.
type blobReader struct {
	ctx     context.Context
	r       *Repository
	desc    ocispec.Descriptor
	pos     int64  // absolute offset of the next byte
	foreign string // the foreign URL in use, "" for the registry

	body    io.ReadCloser
	cancel  context.CancelFunc
	stall   *time.Timer
	stalled chan struct{}
	retry   *retry.Retrier // counts the failures since bytes last came
}

func (b *blobReader) Read(p []byte) (int, error) {
	for {
		remaining := b.desc.Size - b.pos
		if remaining <= 0 {
			b.closeBody()
			return 0, io.EOF
		}
		if b.body == nil {
			if err := b.open(); err != nil {
				return 0, err
			}
		}
		if int64(len(p)) > remaining {
			p = p[:remaining]
		}
		n, err := b.body.Read(p)
		b.pos += int64(n)
		if n > 0 {
			b.retry.Progress()
			b.stall.Reset(b.r.c.opts.StallTimeout)
		}
		if err == nil {
			return n, nil
		}
		if err == io.EOF && b.pos == b.desc.Size {
			b.closeBody()
			return n, io.EOF
		}
		// Broken, stalled or short: resume from b.pos.
		stalled := false
		select {
		case <-b.stalled:
			stalled = true
		default:
		}
		b.closeBody()
		if b.ctx.Err() != nil {
			return n, b.ctx.Err()
		}
		switch {
		case stalled:
			err = fmt.Errorf("%w: no data for %s", ErrStalled, b.r.c.opts.StallTimeout)
		case err == io.EOF:
			err = fmt.Errorf("body ended after %d of %d bytes: %w", b.pos, b.desc.Size, io.ErrUnexpectedEOF)
		}
		if err := b.retry.Again(b.ctx, &NetworkError{Op: "GET blob " + b.desc.Digest.String(), Err: err, Temporary: true}); err != nil {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (b *blobReader) Close() error {
	b.closeBody()
	return nil
}

func (b *blobReader) closeBody() {
	if b.body != nil {
		b.body.Close()
		b.body = nil
	}
	if b.stall != nil {
		b.stall.Stop()
	}
	if b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
}

// open starts a transfer at b.pos.
func (b *blobReader) open() error {
	for {
		err := b.openOnce()
		if err == nil {
			return nil
		}
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
		if !IsTransient(err) {
			return err
		}
		if err := b.retry.Again(b.ctx, err); err != nil {
			return err
		}
	}
}

func (b *blobReader) openOnce() error {
	ctx, cancel := context.WithCancel(b.ctx)
	stalled := make(chan struct{})
	var once sync.Once
	stall := time.AfterFunc(b.r.c.opts.StallTimeout, func() {
		once.Do(func() { close(stalled) })
		cancel()
	})
	resp, err := b.get(ctx)
	if err != nil {
		stall.Stop()
		cancel()
		select {
		case <-stalled:
			if b.ctx.Err() == nil {
				return &NetworkError{Op: "GET blob " + b.desc.Digest.String(), Err: fmt.Errorf("%w: no answer for %s", ErrStalled, b.r.c.opts.StallTimeout), Temporary: true}
			}
		default:
		}
		return err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != b.pos {
			drain(resp)
			stall.Stop()
			cancel()
			return fmt.Errorf("blob %s: asked for bytes from %d, got %q: %w", b.desc.Digest, b.pos, resp.Header.Get("Content-Range"), errdefs.ErrInvalid)
		}
	case resp.StatusCode == http.StatusOK:
		// The server ignored Range: skip what we have.
		if b.pos > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, b.pos); err != nil {
				resp.Body.Close()
				stall.Stop()
				cancel()
				return &NetworkError{Op: "GET blob " + b.desc.Digest.String(), Err: err, Temporary: true}
			}
		}
	case resp.StatusCode == http.StatusNotFound && b.foreign == "" && len(b.desc.URLs) > 0:
		drain(resp)
		stall.Stop()
		cancel()
		return b.openForeign()
	default:
		stall.Stop()
		cancel()
		e := readError(resp, http.MethodGet, resp.Request.URL)
		if e.Code == "" && e.Status == http.StatusNotFound {
			e.Code, e.Message = "BLOB_UNKNOWN", "blob unknown to registry"
		}
		return e
	}
	b.body, b.cancel, b.stall, b.stalled = resp.Body, cancel, stall, stalled
	return nil
}

func (b *blobReader) get(ctx context.Context) (*http.Response, error) {
	header := http.Header{}
	if b.pos > 0 {
		header.Set("Range", "bytes="+strconv.FormatInt(b.pos, 10)+"-")
	}
	if b.foreign != "" {
		return b.r.c.roundTrip(ctx, b.r.c.foreign, func() (*http.Request, error) {
			req, err := b.r.c.newRequest(ctx, http.MethodGet, b.foreign, nil)
			if err == nil {
				for k, v := range header {
					req.Header[k] = v
				}
			}
			return req, err
		}, false, 0)
	}
	u, err := b.r.url(ctx, "/v2/"+b.r.Path+"/blobs/"+b.desc.Digest.String(), nil)
	if err != nil {
		return nil, err
	}
	return b.r.send(ctx, request{method: http.MethodGet, url: u, header: header, once: true})
}

// openForeign tries the descriptor's URLs in turn. No Authorization header
// ever goes to them, and a challenge they answer with is not followed
// (CVE-2020-15157).
func (b *blobReader) openForeign() error {
	var last error
	for _, raw := range b.desc.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			last = fmt.Errorf("blob %s: unusable foreign URL: %w", b.desc.Digest, errdefs.ErrInvalid)
			continue
		}
		b.foreign = u.String()
		if last = b.openOnce(); last == nil {
			return nil
		}
	}
	b.foreign = ""
	return last
}

// contentRangeStart reads the first byte position of "bytes 100-199/200".
func contentRangeStart(s string) (int64, bool) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "bytes"))
	a, _, ok := strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	return n, err == nil
}
