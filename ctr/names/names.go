// Package names makes container names and IDs as Docker does: names like
// "focused_turing" from two word lists, IDs of 64 random hex digits.
package names

import (
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"regexp"
	"strconv"

	"github.com/berth-dev/berth/errdefs"
)

// Random returns a generated name. After a clash the caller asks again with
// retry > 0, which appends a digit, as Docker does.
func Random(retry int) string {
	for {
		name := adjectives[mrand.IntN(len(adjectives))] + "_" + surnames[mrand.IntN(len(surnames))]
		if name == "boring_wozniak" { // Steve Wozniak is not boring
			continue
		}
		if retry > 0 {
			name += strconv.Itoa(mrand.IntN(10))
		}
		return name
	}
}

// ID returns a new 64-hex-digit ID whose 12-digit short form is never all
// decimal digits, so it cannot be mistaken for a number.
func ID() string {
	b := make([]byte, 32)
	for {
		if _, err := rand.Read(b); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		id := hex.EncodeToString(b)
		if _, err := strconv.ParseUint(id[:12], 10, 64); err != nil {
			return id
		}
	}
}

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// Check validates a container name given by a user.
func Check(name string) error {
	if !validName.MatchString(name) {
		return errdefs.Newf(errdefs.ErrInvalid, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}
