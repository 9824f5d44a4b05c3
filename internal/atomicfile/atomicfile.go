// Package atomicfile writes key, certificate and CRL files that a reader never sees half
// written and that have exactly the permissions asked for.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Create writes a new file at path with perm, failing (fs.ErrExist) if it exists; on a write
// failure the partial file is removed.
func Create(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := finish(f, data, perm); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// Replace writes path through a synced temporary file in the same directory and a rename, so
// a watcher (a relay polling its CRL, a role reloading a renewed certificate) sees the old
// file or the new one, never a mix.
func Replace(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := finish(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// finish sets perm (exactly, whatever the umask), writes, syncs and closes f.
func finish(f *os.File, data []byte, perm fs.FileMode) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
