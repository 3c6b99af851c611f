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

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/retry"
)

// Upload is a blob upload session. Write sends the bytes in chunks (PATCH
// with Content-Range), Commit ends it with the digest (PUT ?digest=).
type Upload struct {
	r        *Repository
	ctx      context.Context
	location string
	offset   int64 // bytes the registry has
	chunk    int
	buf      []byte
	err      error
}

// StartUpload opens an upload session.
func (r *Repository) StartUpload(ctx context.Context) (*Upload, error) {
	u, err := r.url(ctx, "/v2/"+r.Path+"/blobs/uploads/", nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.send(ctx, request{method: http.MethodPost, url: u, header: http.Header{"Content-Length": {"0"}}, watch: true})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, readError(resp, http.MethodPost, resp.Request.URL)
	}
	return r.newUpload(ctx, resp)
}

func (r *Repository) newUpload(ctx context.Context, resp *http.Response) (*Upload, error) {
	drain(resp)
	loc, err := location(resp)
	if err != nil {
		return nil, err
	}
	up := &Upload{r: r, ctx: ctx, location: loc, chunk: r.c.opts.ChunkSize}
	if m, err := strconv.Atoi(resp.Header.Get("OCI-Chunk-Min-Length")); err == nil && m > up.chunk {
		up.chunk = m
	}
	return up, nil
}

// location resolves a response's Location against its request.
func location(resp *http.Response) (string, error) {
	l := resp.Header.Get("Location")
	if l == "" {
		return "", fmt.Errorf("registry answered %s without a Location: %w", resp.Request.URL.Path, errdefs.ErrInvalid)
	}
	u, err := resp.Request.URL.Parse(l)
	if err != nil {
		return "", fmt.Errorf("registry gave an invalid upload location: %w", errdefs.ErrInvalid)
	}
	return u.String(), nil
}

// Mount asks the registry to link a blob from another repository of the
// same registry instead of uploading it. When the registry declines, it
// opens an upload session instead and returns it (mounted is false).
func (r *Repository) Mount(ctx context.Context, d digest.Digest, from string) (mounted bool, up *Upload, err error) {
	u, err := r.url(ctx, "/v2/"+r.Path+"/blobs/uploads/", url.Values{"mount": {d.String()}, "from": {from}})
	if err != nil {
		return false, nil, err
	}
	scopes := []string{r.scope(), "repository:" + from + ":pull"}
	resp, err := r.send(ctx, request{method: http.MethodPost, url: u, header: http.Header{"Content-Length": {"0"}}, scopes: scopes, watch: true})
	if err != nil {
		return false, nil, err
	}
	switch resp.StatusCode {
	case http.StatusCreated:
		drain(resp)
		if hdr := resp.Header.Get("Docker-Content-Digest"); hdr != "" && hdr != d.String() {
			return false, nil, fmt.Errorf("registry mounted %s for %s: %w", hdr, d, errdefs.ErrDigestMismatch)
		}
		return true, nil, nil
	case http.StatusAccepted:
		up, err := r.newUpload(ctx, resp)
		return false, up, err
	}
	return false, nil, readError(resp, http.MethodPost, resp.Request.URL)
}

// Offset is how many bytes the registry has received.
func (u *Upload) Offset() int64 { return u.offset + int64(len(u.buf)) }

// Write buffers p and sends every full chunk.
func (u *Upload) Write(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	n := len(p)
	for len(p) > 0 {
		if len(u.buf) == 0 && len(p) >= u.chunk {
			if err := u.patch(p[:u.chunk]); err != nil {
				u.err = err
				return n - len(p), err
			}
			p = p[u.chunk:]
			continue
		}
		take := min(u.chunk-len(u.buf), len(p))
		u.buf = append(u.buf, p[:take]...)
		p = p[take:]
		if len(u.buf) == u.chunk {
			if err := u.patch(u.buf); err != nil {
				u.err = err
				return n - len(p), err
			}
			u.buf = u.buf[:0]
		}
	}
	return n, nil
}

// patch sends one chunk; after a failure it asks the registry how much it
// has and sends the rest of the chunk again. Its failures, those of the
// PATCH and of the asking, count against one policy.
func (u *Upload) patch(chunk []byte) error {
	start := u.offset
	r := u.r.c.opts.Retry.Start()
	for {
		skip := u.offset - start
		if skip < 0 || skip > int64(len(chunk)) {
			return fmt.Errorf("%w: it holds %d bytes, the chunk has %d from %d", errOutOfStep, u.offset, len(chunk), start)
		}
		if skip == int64(len(chunk)) {
			return nil
		}
		part := chunk[skip:]
		err := u.send(http.MethodPatch, u.location, part, true)
		if err == nil {
			return nil
		}
		if !resumable(err) || u.ctx.Err() != nil {
			return stepError(err)
		}
		if err := r.Again(u.ctx, err); err != nil {
			return stepError(err)
		}
		if err := u.resync(r); err != nil {
			return err
		}
	}
}

// errOutOfStep marks an upload that cannot go on: the registry's copy is
// not what was sent, or is gone. A request that failed on the way can land
// after the client asked how much had arrived, and a closing PUT appends
// its bytes without a range. A new upload can go on: IsTransient says so.
var errOutOfStep = errors.New("upload out of step with the registry")

// IsOutOfStep reports an upload that cannot go on: its caller may start a
// new one, which can succeed.
func IsOutOfStep(err error) bool { return errors.Is(err, errOutOfStep) }

// resumable reports a failed upload request worth asking the upload's
// status and going on: a transient failure, or a range the registry
// refused because an earlier request that failed on the way landed after
// the client asked.
func resumable(err error) bool {
	return IsTransient(err) || rangeRefused(err)
}

func rangeRefused(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == "RANGE_INVALID" || e.Status == http.StatusRequestedRangeNotSatisfiable)
}

// stepError is the error of an upload request that gave up: a range
// still refused, or an upload the registry no longer knows, mean the
// upload is out of step.
func stepError(err error) error {
	if rangeRefused(err) || isUploadUnknown(err) {
		return fmt.Errorf("%w: %w", errOutOfStep, err)
	}
	return err
}

func isUploadUnknown(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == "BLOB_UPLOAD_UNKNOWN" || e.Code == "" && e.Status == http.StatusNotFound)
}

// resync asks the registry how much of the upload it has. The question
// is retried by r, the retrier of the transfer that asks, so that the
// transfer's failures and the question's add up rather than multiply;
// bytes the registry has that it did not have before count as progress.
func (u *Upload) resync(r *retry.Retrier) error {
	before := u.offset
	for {
		err := u.status()
		if err == nil {
			if u.offset > before {
				r.Progress()
			}
			return nil
		}
		if !IsTransient(err) || u.ctx.Err() != nil {
			return stepError(err)
		}
		if err := r.Again(u.ctx, err); err != nil {
			return stepError(err)
		}
	}
}

// send PATCHes or PUTs data at u.offset and follows the new location.
func (u *Upload) send(method, loc string, data []byte, withRange bool) error {
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if withRange && len(data) > 0 {
		h.Set("Content-Range", fmt.Sprintf("%d-%d", u.offset, u.offset+int64(len(data))-1))
	}
	body := data
	if body == nil {
		body = []byte{}
	}
	resp, err := u.r.send(u.ctx, request{method: method, url: loc, body: body, header: h, once: true, watch: true})
	if err != nil {
		return err
	}
	want := http.StatusAccepted
	if method == http.MethodPut {
		want = http.StatusCreated
	}
	if resp.StatusCode != want {
		return readError(resp, method, resp.Request.URL)
	}
	u.offset += int64(len(data))
	if l, err := location(resp); err == nil {
		u.location = l
	}
	drain(resp)
	return nil
}

// status asks the registry how many bytes of the upload it has.
func (u *Upload) status() error {
	resp, err := u.r.send(u.ctx, request{method: http.MethodGet, url: u.location, watch: true, once: true})
	if err != nil {
		return err
	}
	drain(resp)
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return &Error{Status: resp.StatusCode, Method: http.MethodGet, URL: redact(resp.Request.URL), Message: "upload status unknown"}
	}
	if l, err := location(resp); err == nil {
		u.location = l
	}
	rng := resp.Header.Get("Range")
	if rng == "" {
		u.offset = 0
		return nil
	}
	_, end, ok := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
	n, err := strconv.ParseInt(end, 10, 64)
	if !ok || err != nil || n < 0 {
		return fmt.Errorf("registry gave an upload range %q: %w", rng, errdefs.ErrInvalid)
	}
	if n == 0 {
		// Registries (distribution, berth hub) answer "0-0" for an empty
		// upload as for one of a byte: an inclusive range cannot say
		// nothing. Nothing is the likely one, unless a byte was confirmed
		// before: a request that fails leaves nothing or more than a byte.
		u.offset = min(u.offset, 1)
		return nil
	}
	u.offset = n + 1
	return nil
}

// Commit sends what is buffered and closes the upload as blob d. When the
// PUT fails on the way, the blob may have arrived with only the answer
// lost: a HEAD tells. If not, the registry says how much of the upload it
// has, and the rest goes again.
func (u *Upload) Commit(d digest.Digest) error {
	if u.err != nil {
		return u.err
	}
	start := u.offset // what the registry had before the buffered bytes
	r := u.r.c.opts.Retry.Start()
	var err error
	for attempt := 0; ; attempt++ {
		skip := u.offset - start
		if skip < 0 || skip > int64(len(u.buf)) {
			err = fmt.Errorf("%w: it holds %d bytes, the last %d start at %d", errOutOfStep, u.offset, len(u.buf), start)
			break
		}
		rest := u.buf[skip:]
		err = nil
		if attempt > 0 && len(rest) > 0 {
			// The first time, the last bytes go with the PUT, without
			// Content-Range, which the spec asks only of PATCH. Again, they
			// go with a range, so that a registry that got some of them
			// meanwhile refuses them rather than appending them twice.
			err = u.send(http.MethodPatch, u.location, rest, true)
			rest = nil
		}
		if err == nil {
			if err = u.put(d, rest); err == nil {
				u.buf = nil
				return nil
			}
		}
		// The answer may be what was lost, or an earlier PUT that failed on
		// the way may have landed since and closed the upload: the blob is
		// there.
		if (resumable(err) || isUploadUnknown(err)) && u.ctx.Err() == nil {
			if _, serr := u.r.StatBlob(u.ctx, d); serr == nil {
				u.buf = nil
				return nil
			}
		}
		if !resumable(err) || u.ctx.Err() != nil {
			break
		}
		if serr := r.Again(u.ctx, err); serr != nil {
			err = serr
			break
		}
		// Without knowing what the registry has, nothing can be sent
		// again safely.
		if serr := u.resync(r); serr != nil {
			// The upload may be gone because the PUT closed it meanwhile,
			// after the HEAD above.
			if _, herr := u.r.StatBlob(u.ctx, d); herr == nil {
				u.buf = nil
				return nil
			}
			err = serr
			break
		}
	}
	return fmt.Errorf("uploading blob %s: %w", d, stepError(err))
}

// put closes the upload as blob d with data as its last bytes.
func (u *Upload) put(d digest.Digest, data []byte) error {
	loc, err := url.Parse(u.location)
	if err != nil {
		return fmt.Errorf("registry gave an invalid upload location: %w", errdefs.ErrInvalid)
	}
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	return u.send(http.MethodPut, loc.String(), data, false)
}

// Cancel abandons the upload.
func (u *Upload) Cancel() {
	ctx := context.WithoutCancel(u.ctx)
	resp, err := u.r.c.send(ctx, u.r.Host, request{method: http.MethodDelete, url: u.location, scopes: []string{u.r.scope()}, once: true, watch: true})
	if err == nil {
		drain(resp)
	}
}

// smallBlob is the size up to which a blob is uploaded in one PUT.
const smallBlob = 1 << 20

// PushBlob uploads a blob of known size that open can read from any
// offset (a file): in one streamed PATCH, resumed from what the registry
// reports after a failure, then closed with its digest. progress, if set,
// hears the bytes sent so far.
func (r *Repository) PushBlob(ctx context.Context, desc ocispec.Descriptor, up *Upload, open func(offset int64) (io.ReadCloser, error), progress func(int64)) error {
	if up == nil {
		var err error
		if up, err = r.StartUpload(ctx); err != nil {
			return err
		}
	}
	if desc.Size <= smallBlob {
		rc, err := open(0)
		if err != nil {
			up.Cancel()
			return err
		}
		data, err := io.ReadAll(io.LimitReader(rc, desc.Size+1))
		rc.Close()
		if err != nil {
			up.Cancel()
			return err
		}
		if int64(len(data)) != desc.Size {
			up.Cancel()
			return fmt.Errorf("blob %s: read %d bytes, want %d: %w", desc.Digest, len(data), desc.Size, errdefs.ErrInvalid)
		}
		up.buf = data
		if err := up.Commit(desc.Digest); err != nil {
			return err
		}
		if progress != nil {
			progress(desc.Size)
		}
		return nil
	}
	// Each resume goes on from what the registry says it has; one that
	// got bytes there starts the count of failures over.
	rt := r.c.opts.Retry.Start()
	for up.offset < desc.Size {
		err := r.patchStream(ctx, up, desc, open, progress)
		if err == nil {
			break
		}
		if !resumable(err) || ctx.Err() != nil {
			up.Cancel()
			return stepError(err)
		}
		if err := rt.Again(ctx, err); err != nil {
			if ctx.Err() == nil {
				up.Cancel()
			}
			return stepError(err)
		}
		if err := up.resync(rt); err != nil {
			return err
		}
		if up.offset > desc.Size {
			up.Cancel()
			return fmt.Errorf("%w: it holds %d bytes of a %d-byte blob", errOutOfStep, up.offset, desc.Size)
		}
	}
	return up.Commit(desc.Digest)
}

func (r *Repository) patchStream(ctx context.Context, up *Upload, desc ocispec.Descriptor, open func(int64) (io.ReadCloser, error), progress func(int64)) error {
	rc, err := open(up.offset)
	if err != nil {
		return err
	}
	defer rc.Close()
	n := desc.Size - up.offset
	var body io.Reader = io.LimitReader(rc, n)
	if progress != nil {
		body = &countingReader{r: body, n: up.offset, f: progress}
	}
	h := http.Header{"Content-Type": {"application/octet-stream"},
		"Content-Range": {fmt.Sprintf("%d-%d", up.offset, desc.Size-1)}}
	resp, err := r.send(ctx, request{method: http.MethodPatch, url: up.location, stream: body, length: n, header: h, once: true, watch: true})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted {
		return readError(resp, http.MethodPatch, resp.Request.URL)
	}
	up.offset = desc.Size
	if l, err := location(resp); err == nil {
		up.location = l
	}
	drain(resp)
	return nil
}

type countingReader struct {
	r    io.Reader
	n    int64
	last int64
	f    func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n-c.last >= 256<<10 || errors.Is(err, io.EOF) {
		c.last = c.n
		c.f(c.n)
	}
	return n, err
}
