package mesos

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/discovery-mesos/discovery/state"
)

// FileSource follows a Mesos master state document on disk: the daemon's embedded
// default (a bundled sample cluster), and a way to run discovery from a state
// saved or generated elsewhere.
//
// It watches the file's directory rather than the file, so that every way of
// changing a file is seen: written in place, replaced by an atomic rename, or
// moved aside and rewritten by an editor. A change is read after a short quiet
// period, so a file caught half-written is read again once the writer is done.
// A file that cannot be read or decoded is reported to the sink and the last
// good view stays; a file missing at start is reported and read when it appears.
type FileSource struct {
	path    string
	masters []state.Master
	log     *slog.Logger
	dec     Decoder // sizes each read's decode from the last

	// quiet is how long the directory must be still before the file is read;
	// maxDelay bounds the wait while it keeps changing. resync is how often the
	// file is checked without an event, in case one was lost.
	quiet, maxDelay, resync time.Duration
}

// NewFileSource returns a source for the state document at path. masters become
// the Masters of every Cluster it builds (mesos-dns's masterN records). A nil
// log discards.
func NewFileSource(path string, masters []state.Master, log *slog.Logger) *FileSource {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &FileSource{
		path:     filepath.Clean(path),
		masters:  masters,
		quiet:    50 * time.Millisecond,
		maxDelay: 500 * time.Millisecond,
		resync:   10 * time.Second,
	}
	s.log = log.With("source", s.Name())
	return s
}

// Name implements Source: "file <path>".
func (s *FileSource) Name() string { return "file " + s.path }

// fileVersion is what the source saw of the file the last time it looked.
type fileVersion struct {
	// info and sum describe the last content read; info is nil when the file
	// could not be read.
	info fs.FileInfo
	sum  uint64
	// failure is the last failure reported, so that a file that stays missing
	// or unreadable is reported once, not at every check.
	failure string
}

var fileSeed = maphash.MakeSeed()

// Run implements Source. It returns ctx's error when ctx is done, or an error
// when the file's directory cannot be watched.
func (s *FileSource) Run(ctx context.Context, sink state.Sink) error {
	dir := filepath.Dir(s.path)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", dir, err)
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watching %s: %w", dir, err)
	}

	var last fileVersion
	s.load(sink, &last, true)

	wait := time.NewTimer(time.Hour)
	wait.Stop()
	resync := time.NewTicker(s.resync)
	defer resync.Stop()
	var (
		pending bool      // a read is scheduled
		force   bool      // an event named the file itself
		first   time.Time // when the pending read was first scheduled
	)
	schedule := func(named bool) {
		force = force || named
		now := time.Now()
		if !pending {
			pending, first = true, now
		}
		wait.Reset(min(s.quiet, max(0, s.maxDelay-now.Sub(first))))
	}
	base := filepath.Base(s.path)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("file watcher closed")
			}
			if ev.Name == dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				s.log.Warn("state file directory went away; checking every resync interval", "dir", dir)
				continue
			}
			// An event for another name may still change what path resolves
			// to (a symlinked file, a swapped directory link): check it too.
			schedule(filepath.Base(ev.Name) == base)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("file watcher closed")
			}
			s.log.Warn("file watcher error; rereading the file", "err", err)
			schedule(true)
		case <-resync.C:
			s.load(sink, &last, false)
		case <-wait.C:
			pending = false
			s.load(sink, &last, force)
			force = false
		}
	}
}

// load reads and decodes the file and hands on the result. Unless force is set, a
// file that looks unchanged (same file, size and modification time) is not read
// again; a file whose content is unchanged is never decoded again.
//
// The file is read twice, never held whole: once to hash it, and if it
// changed, once more as it is decoded. Should it change in between, the hash is
// of the older content and the change's own event decodes the file once more.
func (s *FileSource) load(sink state.Sink, last *fileVersion, force bool) {
	info, err := os.Stat(s.path)
	if err == nil && !force && last.info != nil && sameFileVersion(last.info, info) {
		return
	}
	var sum uint64
	if err == nil {
		sum, err = hashFile(s.path)
	}
	var c *state.Cluster
	if err == nil && (last.info == nil || sum != last.sum) {
		c, err = s.decodeFile()
	}
	var notState *fileDecodeError
	if err != nil && !errors.As(err, &notState) {
		err = fmt.Errorf("reading state file: %w", err)
		if last.info == nil && last.failure == err.Error() {
			return
		}
		*last = fileVersion{failure: err.Error()}
		s.fail(sink, err)
		return
	}
	if last.info != nil && sum == last.sum {
		last.info = info
		return
	}
	*last = fileVersion{info: info, sum: sum}
	if err != nil {
		last.failure = err.Error()
		s.fail(sink, fmt.Errorf("reading state file %s: %w", s.path, notState.err))
		return
	}
	s.log.Info("state file loaded", "agents", len(c.Agents), "frameworks", len(c.Frameworks), "tasks", len(c.Tasks))
	sink.PublishCluster(c)
}

// fileDecodeError is a state file that was read but is not a state.
type fileDecodeError struct{ err error }

func (e *fileDecodeError) Error() string { return e.err.Error() }

// decodeFile decodes the state file as it reads it. An error reading the file
// is returned as it is; one decoding it as a *fileDecodeError.
func (s *FileSource) decodeFile() (*state.Cluster, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	meta := FetchMeta{Source: s.Name(), Masters: s.masters}
	if info, err := f.Stat(); err == nil {
		meta.Size = info.Size()
	}
	rd := &errRecorder{r: f}
	c, err := s.dec.DecodeFrom(rd, meta)
	switch {
	case rd.err != nil:
		return nil, rd.err
	case err != nil:
		return nil, &fileDecodeError{err}
	}
	c.FetchedAt = time.Now() // outside the digest: the read ended just now
	return c, nil
}

// hashFile hashes the content of the file at path.
func hashFile(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var h maphash.Hash
	h.SetSeed(fileSeed)
	if _, err := io.Copy(&h, f); err != nil {
		return 0, err
	}
	return h.Sum64(), nil
}

// errRecorder keeps the first error other than io.EOF that reading r gave.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

func (s *FileSource) fail(sink state.Sink, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("state file missing; waiting for it to appear", "err", err)
	} else {
		s.log.Warn("state file unusable; keeping the last good view", "err", err)
	}
	sink.FetchFailed(s.Name(), err)
}

// sameFileVersion reports whether two stats look like the same, unchanged file.
func sameFileVersion(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
