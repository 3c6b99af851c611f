package spec

import "strings"

// DefaultPath is the PATH a container gets when neither the image nor the
// user sets one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// MergeImageEnv is the environment a container is created with: the user's
// variables, then the image's for every name the user did not set (Docker's
// order).
func MergeImageEnv(user, img []string) []string {
	if len(user) == 0 {
		return append([]string(nil), img...)
	}
	out := append([]string(nil), user...)
	for _, e := range img {
		k := envKey(e)
		found := false
		for _, u := range user {
			if envKey(u) == k {
				found = true
				break
			}
		}
		if !found {
			out = append(out, e)
		}
	}
	return out
}

// ProcessEnv is the environment a process starts with: PATH, HOSTNAME and,
// with a terminal, TERM=xterm, each replaced by the container's own values,
// which follow.
func ProcessEnv(hostname string, tty bool, env ...[]string) []string {
	out := []string{"PATH=" + DefaultPath, "HOSTNAME=" + hostname}
	if tty {
		out = append(out, "TERM=xterm")
	}
	for _, e := range env {
		out = ReplaceOrAppendEnv(out, e)
	}
	return out
}

// ReplaceOrAppendEnv overrides the variables of base with those of over,
// appending new ones. A name without "=" in over removes the variable.
func ReplaceOrAppendEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, e := range over {
		k := envKey(e)
		i := -1
		for j, b := range out {
			if envKey(b) == k {
				i = j
				break
			}
		}
		switch {
		case !strings.Contains(e, "="):
			if i >= 0 {
				out = append(out[:i], out[i+1:]...)
			}
		case i >= 0:
			out[i] = e
		default:
			out = append(out, e)
		}
	}
	return out
}

func envKey(e string) string {
	k, _, _ := strings.Cut(e, "=")
	return k
}
