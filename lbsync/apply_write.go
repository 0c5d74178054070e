package lbsync

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeAtomic replaces path with data so that a reader (HAProxy reloading, an
// operator's cat) sees the old file or the new one, never a part: a temp file in
// the same directory, fsynced, renamed over path, and the directory fsynced.
// configFileMode and archiveFileMode are the modes of the config (and the
// files beside it: map files, files to check) and of its archived copies.
// They hold basic-auth hashes and the layout of every app: not for every
// local user. HAProxy reads the config as root, before dropping privileges.
const (
	configFileMode  os.FileMode = 0o640
	archiveFileMode os.FileMode = 0o600
)

func writeAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomicParts(path, [][]byte{data}, perm)
}

// writeAtomicParts is writeAtomic of the concatenation of parts.
func writeAtomicParts(path string, parts [][]byte, perm os.FileMode) error {
	tmp, err := writeTempParts(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*", parts, perm)
	if err != nil {
		return err
	}
	return commitTemp(tmp, path)
}

// writeTemp writes data to a new fsynced temp file in dir and returns its name.
func writeTemp(dir, pattern string, data []byte, perm os.FileMode) (string, error) {
	return writeTempParts(dir, pattern, [][]byte{data}, perm)
}

// writeTempParts is writeTemp of the concatenation of parts.
func writeTempParts(dir, pattern string, parts [][]byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("creating temp file in %s: %w", dir, err)
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := writeParts(f, parts); err != nil {
		return fail(fmt.Errorf("writing %s: %w", name, err))
	}
	if err := f.Chmod(perm); err != nil {
		return fail(fmt.Errorf("chmod %s: %w", name, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("syncing %s: %w", name, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("closing %s: %w", name, err)
	}
	return name, nil
}

// commitTemp renames a temp file written by writeTemp over path and syncs the
// directory, removing the temp file if the rename fails.
func commitTemp(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("renaming %s to %s: %w", tmp, path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
