package ctr

import (
	"strings"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/internal/du"
)

// ParseDetachKeys reads --detach-keys as Docker does: a comma-separated
// sequence of single characters and ctrl-<key> (a-z, @, [, \, ], ^, _).
func ParseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, errdefs.Newf(errdefs.ErrInvalid, "Unknown character: '%s'", k)
			}
		default:
			return nil, errdefs.Newf(errdefs.ErrInvalid, "Unknown character: '%s'", k)
		}
	}
	return out, nil
}

// WritableSize is the space the container's own writes take (docker ps -s).
func (c *Container) WritableSize() int64 { return du.Size(c.dir + "/upper") }
