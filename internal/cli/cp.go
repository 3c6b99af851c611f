package cli

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/errdefs"
)

func (a *app) cpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a running container and the local filesystem. Paths in\n" +
			"the container resolve inside its root: its symlinks never lead out of it.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			srcCtr, src := splitCpArg(args[0])
			dstCtr, dst := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr == "":
				if dst == "-" {
					return e.CopyFromContainer(ctx, srcCtr, src, a.stdout)
				}
				pr, pw := io.Pipe()
				go func() { pw.CloseWithError(e.CopyFromContainer(ctx, srcCtr, src, pw)) }()
				err := extractToHost(pr, dst)
				pr.CloseWithError(err)
				return err
			case srcCtr == "" && dstCtr != "":
				if src == "-" {
					return e.CopyToContainer(ctx, dstCtr, dst, a.stdin)
				}
				return e.CopyPathToContainer(ctx, dstCtr, src, dst)
			}
			return errdefs.Newf(errdefs.ErrInvalid, "copying between containers or between local paths is not supported: one of the paths must be CONTAINER:PATH")
		},
	}
}

// splitCpArg splits CONTAINER:PATH; a local path with a colon starts with
// / or ./, as Docker's.
func splitCpArg(s string) (container, p string) {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return "", s
	}
	if c, p, ok := strings.Cut(s, ":"); ok && !strings.Contains(c, "/") {
		return c, p
	}
	return "", s
}

// extractToHost unpacks cp's tar at dst: into it when it is a directory,
// else as dst itself.
func extractToHost(r io.Reader, dst string) error {
	into, rename := dst, ""
	if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
		into, rename = filepath.Dir(dst), filepath.Base(dst)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)
		if rename != "" {
			_, rest, _ := strings.Cut(strings.TrimPrefix(name, "/"), "/")
			name = path.Join("/", rename, rest)
		}
		p, err := securejoin.SecureJoin(into, name)
		if err != nil {
			return err
		}
		if err := writeHostEntry(p, h, tr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
}

func writeHostEntry(p string, h *tar.Header, r io.Reader) error {
	switch h.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(p, os.FileMode(h.Mode).Perm())
	case tar.TypeSymlink:
		os.Remove(p)
		return os.Symlink(h.Linkname, p)
	case tar.TypeReg:
		return writeContextFile(p, r, os.FileMode(h.Mode).Perm())
	}
	return nil
}
