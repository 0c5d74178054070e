package lbsync

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxIOV is how many pieces one writev takes (Linux's IOV_MAX).
const maxIOV = 1024

// writeParts writes parts to f in order with writev: the kernel gathers
// them, so a configuration held in pieces (lbmodel.Text) is never copied
// into one buffer to be written.
func writeParts(f *os.File, parts [][]byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		werr = writevAll(int(fd), parts)
		return true
	}); err != nil {
		return err
	}
	return werr
}

func writevAll(fd int, parts [][]byte) error {
	for len(parts) > 0 {
		batch := parts[:min(len(parts), maxIOV)]
		n, err := unix.Writev(fd, batch)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		progress := n > 0
		for len(parts) > 0 && n >= len(parts[0]) {
			n -= len(parts[0])
			parts = parts[1:]
		}
		if n > 0 { // a piece written in part: the rest of it alone
			if err := writeAll(fd, parts[0][n:]); err != nil {
				return err
			}
			parts = parts[1:]
		}
		if !progress && len(parts) == len(batch) && len(parts) > 0 && len(parts[0]) > 0 {
			return io.ErrShortWrite
		}
	}
	return nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		b = b[n:]
	}
	return nil
}
