// Package du adds up what a directory tree holds, as the sizes berth
// reports for writable layers, volumes and the build cache count it.
package du

import (
	"io/fs"
	"path/filepath"
)

// Size is the sum of the sizes of the regular files under dir (apparent
// sizes, as Docker reports them); what cannot be read counts as nothing.
func Size(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}
